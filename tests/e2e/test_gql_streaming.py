"""gql's aiohttp transport streaming a file (`FileVar(..., streaming=True)`) to a real `imagehost serve`.

Streamed, gql sends the file part with no `filename=` unless one is given: the spec allows that,
and the part must still be taken as the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, FileVar, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport
from PIL import Image

from tests.e2e._service import stored_name, total_count
from tests.support import RunningServer, auth_headers, run_serve

UPLOAD_IMAGE = gql(
    "mutation($file: Upload!) { uploadImage(file: $file) { __typename"
    " ... on Image { id filename contentType size width height url }"
    " ... on UploadError { code message } } }"
)
SIDE = 1735  # 1735 x 1735 RGB noise, stored uncompressed: a ~9 MB PNG, under the 10 MiB default


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("gql-streaming")) as running:
        yield running


@pytest.fixture(scope="module")
def nine_megabytes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "noise.png"
    out = io.BytesIO()
    Image.frombytes("RGB", (SIDE, SIDE), os.urandom(SIDE * SIDE * 3)).save(out, "PNG", compress_level=0)
    path.write_bytes(out.getvalue())
    assert 9_000_000 < path.stat().st_size < 10 * 1024 * 1024
    return path


async def _stream(url: str, file: FileVar) -> dict[str, Any]:
    async with Client(transport=AIOHTTPTransport(url=url, timeout=60, headers=auth_headers(url.removesuffix("/graphql"))), fetch_schema_from_transport=False) as session:
        request = GraphQLRequest(UPLOAD_IMAGE, variable_values={"file": file})
        result: dict[str, Any] = (await session.execute(request, upload_files=True))["uploadImage"]
        return result


@pytest.mark.parametrize(("filename", "stored_as"), [(None, "image.png"), ("holiday.png", "holiday.png")])
def test_a_streamed_9_mb_file_is_stored_whole(server: RunningServer, nine_megabytes: Path,
                                               filename: str | None, stored_as: str) -> None:
    data = nine_megabytes.read_bytes()
    before = total_count(server.url)
    started = time.perf_counter()
    image = asyncio.run(_stream(server.url + "/graphql", FileVar(str(nine_megabytes), filename=filename, streaming=True)))
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"streamed {len(data):,} bytes with gql/aiohttp (filename={filename!r}) in {elapsed_ms:.0f} ms")

    assert image["__typename"] == "Image", image
    assert (image["filename"], image["contentType"], image["size"]) == (stored_as, "image/png", len(data))
    assert (image["width"], image["height"]) == (SIDE, SIDE)
    stored = (server.images_dir / stored_name(image)).read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    with urllib.request.urlopen(image["url"], timeout=30) as response:
        assert response.read() == data
    assert total_count(server.url) == before + 1
