"""Upload every image in a folder to Imagehost and print where each one went.

    python examples/upload_folder.py FOLDER [--url http://127.0.0.1:8000/graphql] [--token SECRET]

The token is an API token (the UI's "API tokens" page, or `imagehost tokens create NAME`);
`--token` or the IMAGEHOST_TOKEN environment variable (better: it stays out of `ps` and the
shell's history). It is sent as `Authorization: Bearer <token>`.

Needs gql with the requests transport: `.venv/bin/pip install -e '.[client]'` in a clone (what
`./scripts/serve` installs is the server alone), or `pip install "gql[requests]"` anywhere.
Prints one line per file, tab-separated: the file name, then its URL, or the error code and
message. Exits 0 when every file was stored, 1 when some were refused, 2 when the server could
not be used at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

try:
    from gql import Client, FileVar, GraphQLRequest, gql
    from gql.transport.exceptions import TransportError
    from gql.transport.requests import RequestsHTTPTransport
    from requests import RequestException
except ImportError as missing:  # the server's own install (./scripts/serve) does not include gql
    print(
        f"upload_folder.py needs gql with its requests transport ({missing.name} is missing): "
        "run `.venv/bin/pip install -e '.[client]'` in the Imagehost folder, "
        "or `pip install 'gql[requests]'`",
        file=sys.stderr,
    )
    sys.exit(2)

# The server judges files by their bytes; the extension only decides what we offer it.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}

UPLOAD_LIMITS = gql("query { uploadLimits { maxFiles } }")
UPLOAD_IMAGES = gql(
    """
    mutation Upload($files: [Upload!]!) {
      uploadImages(files: $files) {
        __typename
        ... on Image { url }
        ... on UploadError { code message }
      }
    }
    """
)


def image_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in IMAGE_SUFFIXES
    )


def batches(paths: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


def upload_folder(folder: Path, url: str, token: str) -> int:
    paths = image_files(folder)
    if not paths:
        print(f"no image files (.jpg .jpeg .png .gif .webp) in {folder}", file=sys.stderr)
        return 0
    refused = 0
    transport = RequestsHTTPTransport(url=url, timeout=120, headers={"Authorization": f"Bearer {token}"})
    with Client(transport=transport) as session:
        max_files = session.execute(UPLOAD_LIMITS)["uploadLimits"]["maxFiles"]
        for batch in batches(paths, max_files):
            request = GraphQLRequest(
                UPLOAD_IMAGES, variable_values={"files": [FileVar(str(path)) for path in batch]}
            )
            results = session.execute(request, upload_files=True)["uploadImages"]
            for path, result in zip(batch, results, strict=True):
                if result["__typename"] == "Image":
                    print(f"{path.name}\t{result['url']}", flush=True)
                else:
                    refused += 1
                    print(f"{path.name}\t{result['code']}: {result['message']}", flush=True)
    return 1 if refused else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Upload every image in a folder to Imagehost.")
    parser.add_argument("folder", type=Path, help="the folder whose images to upload")
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000/graphql", help="the GraphQL endpoint"
    )
    parser.add_argument("--token", default=os.environ.get("IMAGEHOST_TOKEN"),
                        help="an API token (default: $IMAGEHOST_TOKEN)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    if not args.token:
        parser.error("an API token is needed: --token SECRET or IMAGEHOST_TOKEN "
                     "(create one on the UI's API tokens page or with `imagehost tokens create NAME`)")
    try:
        return upload_folder(args.folder, args.url, args.token)
    except (TransportError, RequestException) as error:
        print(f"upload failed: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
