"""The real gql client (requests and httpx transports) against a real `imagehost serve`."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from gql import Client, FileVar, GraphQLRequest, gql
from gql.client import SyncClientSession
from gql.transport.httpx import HTTPXTransport
from gql.transport.requests import RequestsHTTPTransport

from tests.e2e._service import (
    EXTENSIONS,
    FIXTURE_BY_NAME,
    FIXTURES,
    UPLOAD_RESULT_FIELDS,
    FixtureImage,
    stored_name,
    stored_names,
)
from tests.support import RunningServer, auth_headers, run_serve

RESULT_FIELDS = UPLOAD_RESULT_FIELDS + " ... on Image { thumbnailUrl }"
UPLOAD_IMAGE = gql(f"mutation($file: Upload!) {{ uploadImage(file: $file) {{ {RESULT_FIELDS} }} }}")
UPLOAD_IMAGES = gql(
    f"mutation($files: [Upload!]!) {{ uploadImages(files: $files) {{ {RESULT_FIELDS} }} }}"
)
# Fixtures carrying metadata the upload pipeline strips (issue 14): a JPEG comment (COM), PNG
# tIME + iTXt. Their stored bytes are smaller and decode to the same pixels; the others are
# stored exactly as sent.
STRIPPED = {"photo_rocket.jpg", "alpha_earth.png"}
IMAGE = gql(
    "query($id: ID!) { image(id: $id) {"
    " id filename contentType size width height url createdAt thumbnailUrl } }"
)
DELETE_IMAGE = gql(
    "mutation($id: ID!) { deleteImage(id: $id) {"
    " __typename ... on DeletedImage { id } ... on ImageNotFound { missingId: id message } } }"
)
IMAGES_PAGE = gql(
    "query($first: Int!, $after: String) { images(first: $first, after: $after) {"
    " totalCount edges { cursor node { id filename } } pageInfo { hasNextPage endCursor } } }"
)
TRANSPORTS = ["requests", "httpx"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("gql")) as running:
        yield running


def open_session(graphql_url: str, transport_name: str) -> Client:
    transport: RequestsHTTPTransport | HTTPXTransport
    if transport_name == "requests":
        transport = RequestsHTTPTransport(url=graphql_url, timeout=30, headers=auth_headers(graphql_url.removesuffix("/graphql")))
    else:
        transport = HTTPXTransport(url=graphql_url, timeout=30, headers=auth_headers(graphql_url.removesuffix("/graphql")))
    return Client(transport=transport, fetch_schema_from_transport=False)


@pytest.fixture(params=TRANSPORTS)
def session(request: pytest.FixtureRequest, server: RunningServer) -> Iterator[SyncClientSession]:
    with open_session(server.url + "/graphql", request.param) as gql_session:
        yield gql_session


def upload_one(session: SyncClientSession, file: FileVar) -> dict[str, Any]:
    request = GraphQLRequest(UPLOAD_IMAGE, variable_values={"file": file})
    result: dict[str, Any] = session.execute(request, upload_files=True)["uploadImage"]
    return result


def upload_many(session: SyncClientSession, files: list[FileVar]) -> list[dict[str, Any]]:
    request = GraphQLRequest(UPLOAD_IMAGES, variable_values={"files": files})
    results: list[dict[str, Any]] = session.execute(request, upload_files=True)["uploadImages"]
    return results


def run(session: SyncClientSession, request: GraphQLRequest, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = session.execute(GraphQLRequest(request, variable_values=variables))
    return result


def assert_is_fixture(
    image: dict[str, Any], fixture: FixtureImage, server: RunningServer, sent_as: str
) -> None:
    assert image["__typename"] == "Image", image
    assert image["filename"] == sent_as
    assert image["contentType"] == fixture.content_type
    assert (image["width"], image["height"]) == (fixture.width, fixture.height)
    assert image["url"] == f"{server.url}/images/{image['id']}.{EXTENSIONS[fixture.content_type]}"
    assert datetime.fromisoformat(image["createdAt"]).utcoffset() is not None
    stored = (server.images_dir / stored_name(image)).read_bytes()
    assert image["size"] == len(stored)
    if fixture.name in STRIPPED:
        assert len(stored) < len(fixture.data)
        assert decoded_pixels(stored) == decoded_pixels(fixture.data)
    else:
        assert stored == fixture.data


def decoded_pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def keys_of(image: dict[str, Any]) -> set[str]:
    """The names of an image's files: its bytes and its thumbnail."""
    return {stored_name(image), str(image["thumbnailUrl"]).rsplit("/", 1)[-1]}


def too_many_pixels_png(width: int = 8000, height: int = 8000) -> bytes:
    """A valid PNG header declaring 64 million pixels (over the 50 million default), in 70 bytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


# ---- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda fixture: fixture.name)
def test_upload_image_stores_each_format(
    session: SyncClientSession, server: RunningServer, fixture: FixtureImage
) -> None:
    image = upload_one(session, FileVar(str(fixture.path)))

    assert_is_fixture(image, fixture, server, sent_as=fixture.name)


def test_upload_judges_by_bytes_not_name(session: SyncClientSession, server: RunningServer) -> None:
    jpeg = FIXTURE_BY_NAME["photo_coffee.jpg"]

    image = upload_one(
        session, FileVar(io.BytesIO(jpeg.data), filename="coffee.png", content_type="image/png")
    )

    assert_is_fixture(image, jpeg, server, sent_as="coffee.png")


BAD_FILES = [
    pytest.param(
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n",
        "cat.jpg",
        "UNSUPPORTED_TYPE",
        id="pdf-named-jpg",
    ),
    pytest.param(
        FIXTURE_BY_NAME["alpha_earth.png"].data[:40], "cut.png", "INVALID_IMAGE", id="truncated-png"
    ),
    pytest.param(b"", "empty.gif", "INVALID_IMAGE", id="empty"),
    pytest.param(too_many_pixels_png(), "huge.png", "TOO_MANY_PIXELS", id="too-many-pixels"),
]


@pytest.mark.parametrize(("bad_bytes", "bad_name", "code"), BAD_FILES)
def test_upload_images_partial_success(
    session: SyncClientSession, server: RunningServer, bad_bytes: bytes, bad_name: str, code: str
) -> None:
    first, last = FIXTURE_BY_NAME["anim_throbber.gif"], FIXTURE_BY_NAME["photo_chelsea.webp"]
    before = stored_names(server.images_dir)

    results = upload_many(
        session,
        [
            FileVar(str(first.path)),
            FileVar(io.BytesIO(bad_bytes), filename=bad_name),
            FileVar(str(last.path)),
        ],
    )

    assert [result["__typename"] for result in results] == ["Image", "UploadError", "Image"]
    assert_is_fixture(results[0], first, server, sent_as=first.name)
    assert_is_fixture(results[2], last, server, sent_as=last.name)
    error = results[1]
    assert error["code"] == code
    assert error["rejectedFilename"] == bad_name
    assert bad_name in error["message"]
    assert stored_names(server.images_dir) - before == keys_of(results[0]) | keys_of(results[2])


# ---- queries and delete ----------------------------------------------------------------------


def test_image_by_id_then_delete(session: SyncClientSession, server: RunningServer) -> None:
    fixture = FIXTURE_BY_NAME["alpha_earth.png"]
    uploaded = upload_one(session, FileVar(str(fixture.path)))
    on_disk = [server.images_dir / name for name in keys_of(uploaded)]

    found = run(session, IMAGE, id=uploaded["id"])["image"]
    assert found == {key: value for key, value in uploaded.items() if key != "__typename"}

    assert run(session, DELETE_IMAGE, id=uploaded["id"])["deleteImage"] == {
        "__typename": "DeletedImage",
        "id": uploaded["id"],
    }
    assert not any(path.exists() for path in on_disk)
    assert run(session, IMAGE, id=uploaded["id"])["image"] is None
    again = run(session, DELETE_IMAGE, id=uploaded["id"])["deleteImage"]
    assert again["__typename"] == "ImageNotFound"
    assert again["missingId"] == uploaded["id"]
    assert again["message"]
    assert httpx.get(uploaded["url"], timeout=10).status_code == 404


def test_image_by_unknown_id_is_null(session: SyncClientSession) -> None:
    assert run(session, IMAGE, id="no-such-image-000000000")["image"] is None


@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_list_pages_with_first_and_after(tmp_path: Path, transport_name: str) -> None:
    names = [f"{index}-{fixture.name}" for index, fixture in enumerate(FIXTURES + FIXTURES[:1])]
    with (
        run_serve(tmp_path) as fresh,
        open_session(fresh.url + "/graphql", transport_name) as gql_session,
    ):
        uploaded = upload_many(
            gql_session,
            [
                FileVar(str(FIXTURE_BY_NAME[name.split("-", 1)[1]].path), filename=name)
                for name in names
            ],
        )
        assert [image["__typename"] for image in uploaded] == ["Image"] * 7

        pages: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(5):  # 7 images in pages of 3: three pages, bounded in case paging never ends
            page = run(gql_session, IMAGES_PAGE, first=3, after=after)["images"]
            pages.append(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]

    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert [page["totalCount"] for page in pages] == [7, 7, 7]
    assert all(page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"] for page in pages)
    listed = [edge["node"] for page in pages for edge in page["edges"]]
    # uploadImages stores the files in the order given, and the list is newest first.
    assert [node["id"] for node in listed] == [image["id"] for image in reversed(uploaded)]
    assert [node["filename"] for node in listed] == list(reversed(names))


# ---- the image bytes over HTTP ---------------------------------------------------------------


@pytest.fixture(scope="module")
def served_image(server: RunningServer) -> tuple[dict[str, Any], FixtureImage]:
    fixture = FIXTURE_BY_NAME["photo_coffee.jpg"]  # no metadata: stored exactly as sent
    with open_session(server.url + "/graphql", "httpx") as gql_session:
        image = upload_one(gql_session, FileVar(str(fixture.path)))
    assert image["__typename"] == "Image"
    return image, fixture


def test_get_url_returns_the_bytes_with_caching_headers(
    served_image: tuple[dict[str, Any], FixtureImage],
) -> None:
    image, fixture = served_image

    response = httpx.get(image["url"], timeout=10)

    assert response.status_code == 200
    assert response.content == fixture.data
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers.get("etag") or response.headers.get("last-modified")


def test_get_url_revalidates(served_image: tuple[dict[str, Any], FixtureImage]) -> None:
    image, _ = served_image
    etag = httpx.get(image["url"], timeout=10).headers["etag"]

    response = httpx.get(image["url"], headers={"If-None-Match": etag}, timeout=10)

    assert response.status_code == 304
    assert response.content == b""


def test_get_url_with_range(served_image: tuple[dict[str, Any], FixtureImage]) -> None:
    image, fixture = served_image

    response = httpx.get(image["url"], headers={"Range": "bytes=100-1099"}, timeout=10)

    assert response.status_code == 206
    assert response.content == fixture.data[100:1100]
    assert response.headers["content-range"] == f"bytes 100-1099/{len(fixture.data)}"
    assert response.headers["content-type"] == "image/jpeg"


def test_unknown_image_url_is_plain_404(server: RunningServer) -> None:
    response = httpx.get(server.url + "/images/AAAAAAAAAAAAAAAAAAAAAA.png", timeout=10)

    assert response.status_code == 404
    assert not response.headers["content-type"].startswith("image/")
