"""What the end-to-end tests share: the fixture images, plain GraphQL calls, and looking at the
images folder of a running `imagehost serve` from the outside."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import auth_headers

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "images"
CATALOG_DIR = ".imagehost"


@dataclass(frozen=True)
class FixtureImage:
    name: str
    content_type: str
    width: int
    height: int

    @property
    def path(self) -> Path:
        return FIXTURE_DIR / self.name

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


# Sizes as listed in tests/fixtures/images/SOURCES.md.
FIXTURES = (
    FixtureImage("photo_rocket.jpg", "image/jpeg", 640, 427),
    FixtureImage("photo_coffee.jpg", "image/jpeg", 600, 400),
    FixtureImage("photo_chelsea.webp", "image/webp", 451, 300),
    FixtureImage("alpha_earth.png", "image/png", 80, 80),
    FixtureImage("anim_throbber.gif", "image/gif", 32, 32),
    FixtureImage("anim_throbber.webp", "image/webp", 32, 32),
)
FIXTURE_BY_NAME = {fixture.name: fixture for fixture in FIXTURES}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

IMAGE_FIELDS = "id filename contentType size width height url createdAt"
# UploadError.filename (String) and Image.filename (String!) cannot share a response name in one
# selection (GraphQL's OverlappingFieldsCanBeMerged rule), so the error's is aliased.
UPLOAD_RESULT_FIELDS = (
    f"__typename ... on Image {{ {IMAGE_FIELDS} }} "
    "... on UploadError { code message rejectedFilename: filename }"
)


def graphql(
    base_url: str, query: str, variables: dict[str, Any] | None = None, timeout: float = 30
) -> dict[str, Any]:
    """POST a JSON GraphQL request (no Origin header, like a script, with the admin's token when
    run_serve started the server); return the decoded body."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        base_url + "/graphql",
        data=body,
        headers={"Content-Type": "application/json", **auth_headers(base_url)},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def data_of(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = graphql(base_url, query, variables)
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


def total_count(base_url: str) -> int:
    return int(data_of(base_url, "{ images(first: 1) { totalCount } }")["images"]["totalCount"])


def all_image_ids(base_url: str, page_size: int = 100, max_pages: int = 100) -> list[str]:
    """Every id in the catalog, newest first, read page by page."""
    ids: list[str] = []
    after: str | None = None
    for _page in range(max_pages):
        page = data_of(
            base_url,
            "query($first: Int!, $after: String) { images(first: $first, after: $after) {"
            " edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            {"first": page_size, "after": after},
        )["images"]
        ids.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]
    raise AssertionError(f"more than {max_pages} pages of images")


def delete_all_images(base_url: str) -> None:
    for image_id in all_image_ids(base_url):
        data_of(
            base_url, "mutation($id: ID!) { deleteImage(id: $id) { __typename } }", {"id": image_id}
        )


def healthz_status(base_url: str) -> int:
    try:
        with urllib.request.urlopen(base_url + "/healthz", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def stored_names(images_dir: Path) -> set[str]:
    """Names in the images folder other than the catalog folder."""
    return {name for name in os.listdir(images_dir) if name != CATALOG_DIR}


def partial_uploads(images_dir: Path) -> list[str]:
    tmp = images_dir / CATALOG_DIR / "tmp"
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def stored_name(image: dict[str, Any]) -> str:
    """The file name an Image's bytes have on disk: the last part of its URL."""
    return str(image["url"]).rsplit("/", 1)[-1]
