"""Real-world images through the production shape (`imagehost stack`: Nginx + uvicorn workers).

The same contract as tests/e2e/test_images_stored.py ("What is stored, and the renditions"),
checked where it matters most: every key an upload makes (display bytes, thumbnail, HEIC
original) comes from Nginx, never through Python, with the image headers, and a delete makes each
of them 404 at Nginx too.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._image_bytes import (
    THUMBNAIL_TYPES,
    assert_fits_thumbnail_box,
    assert_private,
    decoded,
    jpeg_scan_data,
    real,
    sibling_url,
)
from tests.e2e._service import FIXTURE_BY_NAME, stored_names
from tests.stack.stack_helpers import COUNT, access_log, post_json, request
from tests.stack.test_stack import Stack, running_stack

RESULT = ("__typename ... on Image { id contentType size width height url thumbnailUrl }"
          " ... on UploadError { code message }")
UPLOAD = f"mutation($f: Upload!) {{ uploadImage(file: $f) {{ {RESULT} }} }}"
IMAGE_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable",
                 "X-Content-Type-Options": "nosniff", "Server": "nginx"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack-images")) as running:
        yield running


def upload(stack: Stack, data: bytes, filename: str) -> dict[str, Any]:
    """A GraphQL multipart upload through Nginx; the uploadImage result."""
    boundary = uuid.uuid4().hex
    operations = json.dumps({"query": UPLOAD, "variables": {"f": None}})
    disposition = f"--{boundary}\r\nContent-Disposition: form-data; name="
    body = b"".join([
        f'{disposition}"operations"\r\n\r\n{operations}\r\n'.encode(),
        f'{disposition}"map"\r\n\r\n{{"0": ["variables.f"]}}\r\n'.encode(),
        (f'{disposition}"0"; filename="{filename}"\r\n'
         "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ])
    content_type = f"multipart/form-data; boundary={boundary}"
    reply = request(stack.url + "/graphql", body, {"Content-Type": content_type, **stack.auth})
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()["data"]["uploadImage"]
    return result


def stored_image(stack: Stack, name: str) -> dict[str, Any]:
    image = upload(stack, real(name), name)
    assert image["__typename"] == "Image", image
    return image


def count(stack: Stack) -> int:
    return int(post_json(stack.url, COUNT).json()["data"]["images"]["totalCount"])


def from_nginx(stack: Stack, url: str, agent: str) -> bytes:
    """GET `url` through the stack; assert Nginx served it from storage with the image headers."""
    reply = request(stack.url + urllib.parse.urlsplit(url).path, headers={"User-Agent": agent})
    assert reply.status == 200, url
    for name, value in IMAGE_HEADERS.items():
        assert reply.headers[name] == value, (url, name)
    assert reply.headers["ETag"] and reply.headers["Last-Modified"], url
    return reply.body


def test_a_photo_is_stored_private_with_its_icc_and_pixels_from_nginx(stack: Stack) -> None:
    original = real("rgb.jpg")  # EXIF, XMP, Photoshop IRB and an ICC profile
    image = stored_image(stack, "rgb.jpg")

    stored = from_nginx(stack, image["url"], "stack-images-photo")

    assert_private(stored, (b"Adobe Photoshop CS4", b"x:xmpmeta"))
    assert decoded(stored).info["icc_profile"] == decoded(original).info["icc_profile"]
    assert jpeg_scan_data(stored) == jpeg_scan_data(original)
    assert decoded(stored).tobytes() == decoded(original).tobytes()
    assert [entry["upstream"] for entry in access_log(stack.log_dir, "stack-images-photo")] == ["-"]


@pytest.mark.parametrize(
    ("name", "content_type", "extension", "mode"),
    [("iptc.jpg", "image/jpeg", "jpg", "RGB"), ("alpha_earth.png", "image/webp", "webp", "RGBA")],
)
def test_the_thumbnail_comes_from_nginx_like_the_image(
    stack: Stack, name: str, content_type: str, extension: str, mode: str
) -> None:
    # An opaque photo (640x480) gets a JPEG thumbnail; a transparent PNG a WebP that keeps its alpha.
    data = FIXTURE_BY_NAME[name].data if name in FIXTURE_BY_NAME else real(name)
    image = upload(stack, data, name)
    assert image["thumbnailUrl"] == sibling_url(image["url"], f"thumb.{extension}"), image
    agent = f"stack-images-thumbnail-{extension}"

    thumbnail_bytes = from_nginx(stack, image["thumbnailUrl"], agent)

    reply = request(stack.url + urllib.parse.urlsplit(image["thumbnailUrl"]).path)
    assert reply.headers["Content-Type"] == content_type
    thumbnail = decoded(thumbnail_bytes)
    assert (thumbnail.format, thumbnail.mode) == (THUMBNAIL_TYPES[content_type], mode)
    assert_fits_thumbnail_box(thumbnail, image["width"], image["height"])
    assert_private(thumbnail_bytes, (b"Nokia", b"Budapest"))
    if mode == "RGBA":
        assert thumbnail.getchannel("A").getextrema()[0] < 10  # see-through pixels stay see-through
    assert [entry["upstream"] for entry in access_log(stack.log_dir, agent)] == ["-"]


def test_heic_is_a_jpeg_from_nginx_with_the_original_beside_it(stack: Stack) -> None:
    image = upload(stack, real("RGB_8__29x100.heif"), "IMG_0003.HEIC")

    assert image["__typename"] == "Image", image
    assert (image["contentType"], image["width"], image["height"]) == ("image/jpeg", 29, 100)
    assert image["url"].endswith(".jpg")
    display = from_nginx(stack, image["url"], "stack-images-heic")
    assert (decoded(display).format, len(display)) == ("JPEG", image["size"])
    heic_path = urllib.parse.urlsplit(sibling_url(image["url"], "heic")).path
    kept = request(stack.url + heic_path)
    assert (kept.status, kept.headers["Content-Type"]) == (200, "image/heic")
    assert (decoded(kept.body).format, decoded(kept.body).size) == ("HEIF", (29, 100))


def test_avif_is_served_by_nginx_as_avif(stack: Stack) -> None:
    image = stored_image(stack, "hopper.avif")

    assert image["contentType"] == "image/avif"
    path = urllib.parse.urlsplit(image["url"]).path
    reply = request(stack.url + path)
    served = (reply.status, reply.headers["Content-Type"], reply.headers["Server"])
    assert served == (200, "image/avif", "nginx")
    assert decoded(reply.body).format == "AVIF"


def test_a_truncated_jpeg_is_invalid_and_nothing_is_stored(stack: Stack) -> None:
    files_before, count_before = stored_names(stack.images_dir), count(stack)

    result = upload(stack, real("truncated_jpeg.jpg"), "cut.jpg")

    assert (result["__typename"], result["code"]) == ("UploadError", "INVALID_IMAGE"), result
    assert (stored_names(stack.images_dir), count(stack)) == (files_before, count_before)


def test_a_delete_makes_every_key_404_at_nginx(stack: Stack) -> None:
    files_before = stored_names(stack.images_dir)
    image = upload(stack, real("L_exif_xmp_iptc.heic"), "IMG_0004.HEIC")
    paths = [urllib.parse.urlsplit(url).path
             for url in (image["url"], image["thumbnailUrl"], sibling_url(image["url"], "heic"))]
    assert paths[1].endswith(".thumb.jpg")  # an opaque photo's thumbnail
    assert [request(stack.url + path).status for path in paths] == [200, 200, 200]

    delete = f'mutation {{ deleteImage(id: "{image["id"]}") {{ __typename }} }}'
    deleted = post_json(stack.url, delete)

    assert deleted.json()["data"]["deleteImage"]["__typename"] == "DeletedImage"
    assert [request(stack.url + path).status for path in paths] == [404, 404, 404]
    assert stored_names(stack.images_dir) == files_before
