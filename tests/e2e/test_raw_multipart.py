"""Raw multipart requests against a real `imagehost serve`: the bytes on the wire are exactly ours.

The accepted requests are written the way the GraphQL multipart request spec's examples are
(https://github.com/jaydenseric/graphql-multipart-request-spec#examples: curl's boundary, the
`operations`, `map`, then the file parts). The refused ones check the status, the GraphQL-shaped
JSON body, and that nothing was stored and the server still answers.
"""

from __future__ import annotations

import http.client
import io
import json
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imagehost.settings import Settings
from PIL import Image

from tests.e2e._service import (
    FIXTURE_BY_NAME,
    delete_all_images,
    graphql,
    healthz_status,
    partial_uploads,
    stored_name,
    stored_names,
    total_count,
)
from tests.support import RunningServer, run_serve

# Curl's boundary, as in the spec's examples; the Content-Type names it without the leading "--".
BOUNDARY = "------------------------cec8e8123c05ba25"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

# Small limits so the edges are cheap to reach: photo_chelsea.webp (15,912 bytes) is one byte over.
MAX_UPLOAD_BYTES = len(FIXTURE_BY_NAME["photo_chelsea.webp"].data) - 1
MAX_FILES = 3
ALLOWED_ORIGIN = "http://app.example"
BODY_CAP = Settings(
    Path("."), Path("."), max_upload_bytes=MAX_UPLOAD_BYTES, max_files=MAX_FILES
).max_body_bytes
# The server's code for a request it cannot read as a GraphQL multipart request.
MALFORMED = "MALFORMED_MULTIPART"



def without_metadata(png: bytes) -> bytes:
    """The PNG re-saved by Pillow, so without the tIME/iTXt chunks the upload pipeline strips
    (issue 14): this module tests the transport, so what is stored must be exactly what was sent."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.save(out, "PNG")
    return out.getvalue()


PNG = without_metadata(FIXTURE_BY_NAME["alpha_earth.png"].data)
GIF = FIXTURE_BY_NAME["anim_throbber.gif"].data
WEBP = FIXTURE_BY_NAME["anim_throbber.webp"].data

RESULT = (
    "__typename ... on Image { id url thumbnailUrl size contentType }"
    " ... on UploadError { code message }"
)
UPLOAD_IMAGE = f"mutation ($file: Upload!) {{ uploadImage(file: $file) {{ {RESULT} }} }}"
UPLOAD_IMAGES = f"mutation ($files: [Upload!]!) {{ uploadImages(files: $files) {{ {RESULT} }} }}"


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def multipart(*parts: Part, boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body laid out as curl writes it (and the spec's examples show)."""
    body = b""
    for part in parts:
        disposition = f'Content-Disposition: form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        body += f"--{boundary}\r\n{disposition}\r\n".encode()
        if part.content_type is not None:
            body += f"Content-Type: {part.content_type}\r\n".encode()
        body += b"\r\n" + part.data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def operations(query: str, variables: dict[str, Any]) -> Part:
    return Part("operations", json.dumps({"query": query, "variables": variables}).encode())


def file_map(mapping: dict[str, list[str]]) -> Part:
    return Part("map", json.dumps(mapping).encode())


def post(
    server: RunningServer, body: bytes, content_type: str = MULTIPART, **headers: str
) -> Reply:
    """POST exactly `body` as the admin (its token); http.client adds only Host, Accept-Encoding
    and Content-Length."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        sent_headers = {"Content-Type": content_type, **server.auth}
        sent_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        connection.request("POST", "/graphql", body=body, headers=sent_headers)
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def read_reply(sock: socket.socket) -> Reply:
    """Read one HTTP/1.1 response from a raw socket (Content-Length framed, or until close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Reply(int(status_line.split()[1]), headers, body)


def raw_headers(server: RunningServer, extra: str) -> bytes:
    host = server.url.removeprefix("http://")
    request = (f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: {MULTIPART}\r\n"
               f"Authorization: Bearer {server.token}\r\n{extra}\r\n")
    return request.encode()


# ---- the server and what must hold after each refusal ---------------------------------------


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {
        "max_upload_bytes": str(MAX_UPLOAD_BYTES),
        "max_files": str(MAX_FILES),
        "allowed_origins": ALLOWED_ORIGIN,
    }
    with run_serve(tmp_path_factory.mktemp("raw"), **settings) as running:
        yield running


@pytest.fixture
def server(shared_server: RunningServer) -> Iterator[RunningServer]:
    """The module's server, with an empty images folder at the start of every test."""
    assert stored_names(shared_server.images_dir) == set()
    yield shared_server
    delete_all_images(shared_server.url)


def assert_refused(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert list(body) == ["errors"], body
    [error] = body["errors"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["extensions"]["code"] == code, body


def assert_nothing_stored(server: RunningServer) -> None:
    assert stored_names(server.images_dir) == set()
    assert partial_uploads(server.images_dir) == []
    assert total_count(server.url) == 0
    assert healthz_status(server.url) == 200


def keys_of(image: dict[str, Any]) -> set[str]:
    """The names of an image's files: its bytes and its thumbnail."""
    return {stored_name(image), str(image["thumbnailUrl"]).rsplit("/", 1)[-1]}


def images_in(reply: Reply, field: str) -> list[dict[str, Any]]:
    assert reply.status == 200, reply
    body = reply.json()
    assert "errors" not in body, body
    results = body["data"][field]
    return results if isinstance(results, list) else [results]


# ---- requests written as in the spec's examples ---------------------------------------------


def test_spec_single_file(server: RunningServer) -> None:
    body = multipart(
        operations(UPLOAD_IMAGE, {"file": None}),
        file_map({"0": ["variables.file"]}),
        Part("0", PNG, filename="a.png", content_type="image/png"),
    )

    [image] = images_in(post(server, body), "uploadImage")

    assert image["__typename"] == "Image"
    assert (image["contentType"], image["size"]) == ("image/png", len(PNG))
    assert (server.images_dir / stored_name(image)).read_bytes() == PNG


def test_spec_file_list(server: RunningServer) -> None:
    body = multipart(
        operations(UPLOAD_IMAGES, {"files": [None, None]}),
        file_map({"0": ["variables.files.0"], "1": ["variables.files.1"]}),
        Part("0", GIF, filename="b.gif", content_type="image/gif"),
        Part("1", WEBP, filename="c.webp", content_type="image/webp"),
    )

    images = images_in(post(server, body), "uploadImages")

    assert [image["contentType"] for image in images] == ["image/gif", "image/webp"]
    assert [(server.images_dir / stored_name(image)).read_bytes() for image in images] == [
        GIF,
        WEBP,
    ]


def test_spec_batching(server: RunningServer) -> None:
    operations_array = [
        {"query": UPLOAD_IMAGE, "variables": {"file": None}},
        {"query": UPLOAD_IMAGES, "variables": {"files": [None, None]}},
    ]
    body = multipart(
        Part("operations", json.dumps(operations_array).encode()),
        file_map(
            {"0": ["0.variables.file"], "1": ["1.variables.files.0"], "2": ["1.variables.files.1"]}
        ),
        Part("0", PNG, filename="a.png", content_type="image/png"),
        Part("1", GIF, filename="b.gif", content_type="image/gif"),
        Part("2", WEBP, filename="c.webp", content_type="image/webp"),
    )

    reply = post(server, body)

    assert reply.status == 200, reply
    single, listed = reply.json()
    assert single["data"]["uploadImage"]["contentType"] == "image/png"
    assert [image["contentType"] for image in listed["data"]["uploadImages"]] == [
        "image/gif",
        "image/webp",
    ]
    assert total_count(server.url) == 3


def test_one_file_mapped_into_several_operations(server: RunningServer) -> None:
    # The spec lets one file part fill several variables, also across a batch's operations;
    # each operation stores an image, so at most MAX_FILES of them fit in one request.
    sharing = MAX_FILES
    body = multipart(
        Part(
            "operations",
            json.dumps([{"query": UPLOAD_IMAGE, "variables": {"file": None}}] * sharing).encode(),
        ),
        file_map({"0": [f"{index}.variables.file" for index in range(sharing)]}),
        Part("0", PNG, filename="a.png", content_type="image/png"),
    )

    for _round in range(10):  # a few rounds, so a race between the operations shows up reliably
        reply = post(server, body)

        assert reply.status == 200, reply
        images = [result["data"]["uploadImage"] for result in reply.json()]
        assert [image["__typename"] for image in images] == ["Image"] * sharing, images
        assert len({image["id"] for image in images}) == sharing
        sizes_on_disk = [
            (server.images_dir / stored_name(image)).stat().st_size for image in images
        ]
        assert all(
            (server.images_dir / stored_name(image)).read_bytes() == PNG for image in images
        ), f"stored {sizes_on_disk} bytes for {sharing} images of {len(PNG)} bytes"


def test_file_over_the_limit_is_too_large_beside_its_siblings(server: RunningServer) -> None:
    at_limit = PNG + b"\0" * (
        MAX_UPLOAD_BYTES - len(PNG)
    )  # bytes after IEND are ignored by decoders
    over_limit = FIXTURE_BY_NAME["photo_chelsea.webp"].data
    assert len(over_limit) == MAX_UPLOAD_BYTES + 1
    body = multipart(
        operations(UPLOAD_IMAGES, {"files": [None, None, None]}),
        file_map(
            {"0": ["variables.files.0"], "1": ["variables.files.1"], "2": ["variables.files.2"]}
        ),
        Part("0", at_limit, filename="at-limit.png", content_type="image/png"),
        Part("1", over_limit, filename="over.webp", content_type="image/webp"),
        Part("2", GIF, filename="small.gif", content_type="image/gif"),
    )

    first, refused, last = images_in(post(server, body), "uploadImages")

    # Accepted at the limit; the bytes after IEND are not part of the image and are not stored.
    assert (first["__typename"], first["size"]) == ("Image", len(PNG))
    assert (server.images_dir / stored_name(first)).read_bytes() == PNG
    assert (refused["__typename"], refused["code"]) == ("UploadError", "TOO_LARGE")
    assert "over.webp" in refused["message"]
    assert (last["__typename"], last["size"]) == ("Image", len(GIF))
    assert stored_names(server.images_dir) == keys_of(first) | keys_of(last)
    assert partial_uploads(server.images_dir) == []


# ---- whole-request refusals ------------------------------------------------------------------


def single_upload(
    *, map_json: bytes = b'{"0": ["variables.file"]}', operations_json: bytes | None = None
) -> list[Part]:
    ops = (
        operations_json
        if operations_json is not None
        else operations(UPLOAD_IMAGE, {"file": None}).data
    )
    return [
        Part("operations", ops),
        Part("map", map_json),
        Part("0", PNG, filename="a.png", content_type="image/png"),
    ]


REFUSALS = [
    pytest.param(MULTIPART.split(";")[0], multipart(*single_upload()), id="no-boundary"),
    pytest.param(MULTIPART, b"this is not a multipart body at all\r\n", id="garbage"),
    pytest.param(
        MULTIPART,
        multipart(*single_upload(map_json=b'{"1": ["variables.file"]}')),
        id="map-names-missing-file",
    ),
    pytest.param(MULTIPART, multipart(*single_upload(map_json=b"{not json")), id="map-not-json"),
    pytest.param(
        MULTIPART, multipart(*single_upload(operations_json=b"{not json")), id="operations-not-json"
    ),
    pytest.param(
        MULTIPART,
        multipart(*[part for part in single_upload() if part.name != "map"]),
        id="missing-map",
    ),
    pytest.param(
        MULTIPART,
        multipart(*[part for part in single_upload() if part.name != "operations"]),
        id="missing-operations",
    ),
    pytest.param(
        # The file part is whole (a valid PNG) but the closing boundary never comes.
        MULTIPART,
        multipart(*single_upload()).rsplit(b"\r\n--", 1)[0] + b"\r\n",
        id="no-closing-boundary",
    ),
]


@pytest.mark.parametrize(("content_type", "body"), REFUSALS)
def test_malformed_multipart_is_refused(
    server: RunningServer, content_type: str, body: bytes
) -> None:
    assert_refused(post(server, body, content_type), 400, MALFORMED)
    assert_nothing_stored(server)


def test_file_part_without_filename_is_a_file(server: RunningServer) -> None:
    # The spec does not require `filename=`: every part after `map` is a file, named for its type.
    query = (
        "mutation ($files: [Upload!]!) { uploadImages(files: $files) { __typename "
        "... on Image { filename contentType size } ... on UploadError { code message } } }"
    )
    body = multipart(
        operations(query, {"files": [None, None, None]}),
        file_map({"0": ["variables.files.0"], "1": ["variables.files.1"], "2": ["variables.files.2"]}),
        Part("0", GIF, filename="ok.gif", content_type="image/gif"),
        Part("1", PNG),
        Part("2", WEBP, content_type="text/plain"),
    )

    images = images_in(post(server, body), "uploadImages")

    assert images == [
        {"__typename": "Image", "filename": "ok.gif", "contentType": "image/gif", "size": len(GIF)},
        {"__typename": "Image", "filename": "image.png", "contentType": "image/png", "size": len(PNG)},
        {"__typename": "Image", "filename": "image.webp", "contentType": "image/webp", "size": len(WEBP)},
    ]
    assert total_count(server.url) == 3


def test_a_very_long_file_name_is_shortened(server: RunningServer) -> None:
    long_name = "x" * 10_000 + ".png"
    query = f"mutation ($file: Upload!) {{ uploadImage(file: $file) {{ {RESULT} ... on Image {{ filename }} }} }}"
    body = multipart(
        operations(query, {"file": None}),
        file_map({"0": ["variables.file"]}),
        Part("0", PNG, filename=long_name, content_type="image/png"),
    )

    [image] = images_in(post(server, body), "uploadImage")

    assert image["__typename"] == "Image", image
    assert image["filename"] == "x" * 251 + ".png"
    assert (server.images_dir / stored_name(image)).read_bytes() == PNG


SECOND_FIELD = [
    pytest.param(
        [*single_upload(), operations(UPLOAD_IMAGES, {"files": [None]})], "second `operations`",
        id="operations-again-after-the-files",
    ),
    pytest.param(
        [single_upload()[0], single_upload()[0], *single_upload()[1:]], "second `operations`",
        id="operations-twice",
    ),
    pytest.param(
        [*single_upload()[:2], file_map({"0": ["variables.file"], "1": ["variables.file"]}),
         single_upload()[2]],
        "second `map`",
        id="map-twice",
    ),
    pytest.param([single_upload()[2], *single_upload()[:2]], "comes where `operations` must", id="file-first"),
    pytest.param([single_upload()[1], single_upload()[0], single_upload()[2]], "comes where `operations` must",
                 id="map-before-operations"),
]


@pytest.mark.parametrize(("parts", "says"), SECOND_FIELD)
def test_duplicate_or_misplaced_spec_fields_are_refused(
    server: RunningServer, parts: list[Part], says: str
) -> None:
    reply = post(server, multipart(*parts))

    assert_refused(reply, 400, MALFORMED)
    assert says in reply.json()["errors"][0]["message"]
    assert_nothing_stored(server)


def test_too_many_files(server: RunningServer) -> None:
    count = MAX_FILES + 1
    body = multipart(
        operations(UPLOAD_IMAGES, {"files": [None] * count}),
        file_map({str(index): [f"variables.files.{index}"] for index in range(count)}),
        *[
            Part(str(index), GIF, filename=f"{index}.gif", content_type="image/gif")
            for index in range(count)
        ],
    )

    assert_refused(post(server, body), 413, "TOO_MANY_FILES")
    assert_nothing_stored(server)


def test_declared_body_over_the_cap_is_refused_before_it_is_sent(server: RunningServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw_headers(server, f"Content-Length: {BODY_CAP + 1}\r\n"))
        reply = read_reply(sock)  # not one body byte sent: the answer must come anyway

    assert_refused(reply, 413, "PAYLOAD_TOO_LARGE")
    assert_nothing_stored(server)


def test_chunked_body_over_the_cap_is_refused_when_counted(server: RunningServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    fields = multipart(
        operations(UPLOAD_IMAGE, {"file": None}), file_map({"0": ["variables.file"]})
    )
    disposition = 'Content-Disposition: form-data; name="0"; filename="big.png"'
    file_head = f"--{BOUNDARY}\r\n{disposition}\r\n\r\n"
    # The fields, then a file part that never ends: the body only grows past the cap.
    opening = fields.removesuffix(f"--{BOUNDARY}--\r\n".encode()) + file_head.encode() + PNG
    block = b"\0" * 65536
    give_up_at = 3 * BODY_CAP
    sent = 0
    deadline = time.monotonic() + 20
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw_headers(server, "Transfer-Encoding: chunked\r\n"))
        for data in [opening] + [block] * (give_up_at // len(block)):
            # Past the cap, give the server a moment to answer before sending more.
            wait = 0.05 if sent > BODY_CAP else 0
            if select.select([sock], [], [], wait)[0] or time.monotonic() > deadline:
                break
            try:
                sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed between the check and the send
            sent += len(data)
        reply = read_reply(sock)

    assert_refused(reply, 413, "PAYLOAD_TOO_LARGE")
    # Refused once the count passed the cap, not after reading the whole body.
    assert BODY_CAP < sent < BODY_CAP + 1024 * 1024
    assert_nothing_stored(server)


# ---- cross-origin requests -------------------------------------------------------------------


def png_upload() -> bytes:
    return multipart(*single_upload())


CROSS_SITE = [
    pytest.param({"Origin": "http://evil.example"}, id="other-origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-site-cross-site"),
    pytest.param({"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, id="both"),
    pytest.param({"Origin": "null"}, id="opaque-origin"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_upload_is_refused(server: RunningServer, headers: dict[str, str]) -> None:
    assert_refused(post(server, png_upload(), **headers), 403, "CROSS_ORIGIN_FORBIDDEN")
    assert_nothing_stored(server)


def test_cross_site_delete_is_refused(server: RunningServer) -> None:
    [image] = images_in(post(server, png_upload()), "uploadImage")
    body = json.dumps(
        {
            "query": "mutation($id: ID!) { deleteImage(id: $id) { __typename } }",
            "variables": {"id": image["id"]},
        }
    )

    reply = post(server, body.encode(), "application/json", Origin="http://evil.example")

    assert_refused(reply, 403, "CROSS_ORIGIN_FORBIDDEN")
    assert (server.images_dir / stored_name(image)).read_bytes() == PNG
    assert graphql(server.url, "query($id: ID!) { image(id: $id) { id } }", {"id": image["id"]})[
        "data"
    ]["image"] == {"id": image["id"]}


def same_origin(server: RunningServer) -> dict[str, str]:
    return {"Origin": server.url}


ALLOWED = [
    pytest.param(lambda server: {}, id="no-origin"),
    pytest.param(same_origin, id="same-origin"),
    pytest.param(
        lambda server: {**same_origin(server), "Sec-Fetch-Site": "same-origin"},
        id="same-origin-fetch-metadata",
    ),
    pytest.param(
        lambda server: {"Origin": ALLOWED_ORIGIN, "Sec-Fetch-Site": "cross-site"},
        id="allow-listed-origin",
    ),
]


@pytest.mark.parametrize("headers_for", ALLOWED)
def test_allowed_origins_may_upload(server: RunningServer, headers_for: Any) -> None:
    [image] = images_in(post(server, png_upload(), **headers_for(server)), "uploadImage")

    assert image["__typename"] == "Image"
    assert stored_names(server.images_dir) == keys_of(image)
