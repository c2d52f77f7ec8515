"""An image with every kind of key (display JPEG, thumbnail, HEIC original), stored through
the real storage layer beside a running server, and the checks that each key is served alike."""

from __future__ import annotations

import io
from pathlib import Path

from imagehost.storage import ImageRecord, NewImage, Original, Thumbnail, open_image_store
from imagehost.storage.keys import content_type_of
from tests.imagedata import drawn_jpeg, drawn_webp
from tests.stack.stack_helpers import request

# Storage never decodes what it keeps: HEIC-shaped bytes are enough to test how keys are served.
HEIC = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\x01" * 64
IMAGE_QUERY = "{ image(id: %s) { url thumbnailUrl contentType size } }"


def store_photo(images_dir: Path, thumbnail_type: str = "image/jpeg") -> tuple[ImageRecord, dict[str, bytes]]:
    """Store a HEIC upload as the pipeline hands it to storage; the record and each key's bytes.

    Its thumbnail is a JPEG, as the pipeline makes today; "image/webp" stores one the way
    transparent images, and every image before JPEG thumbnails, have it."""
    display = drawn_jpeg(16, 12)
    thumbnail = drawn_jpeg(8, 6) if thumbnail_type == "image/jpeg" else drawn_webp(8, 6)
    image = NewImage("IMG_0001.heic", "image/jpeg", len(display), 16, 12,
                     Thumbnail(thumbnail, thumbnail_type), Original(io.BytesIO(HEIC), "image/heic"))
    store = open_image_store(images_dir)
    try:
        record = store.add_sync(image, io.BytesIO(display))
    finally:
        store.close()
    assert record.original_key is not None
    return record, {record.key: display, record.thumbnail_key: thumbnail, record.original_key: HEIC}


def assert_every_key_is_served_alike(base_url: str, stored: dict[str, bytes]) -> None:
    """Each key with the contract's image headers, 206 for a Range and 304 for its ETag."""
    for key, data in stored.items():
        url = f"{base_url}/images/{key}"
        reply = request(url)
        assert (reply.status, reply.body) == (200, data), key
        assert reply.headers["Content-Type"] == content_type_of(key), key
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable", key
        assert reply.headers["X-Content-Type-Options"] == "nosniff", key
        assert reply.headers["ETag"] and reply.headers["Last-Modified"], key
        partial = request(url, headers={"Range": "bytes=0-9"})
        assert (partial.status, partial.body) == (206, data[:10]), key
        assert request(url, headers={"If-None-Match": reply.headers["ETag"]}).status == 304, key


def assert_other_names_are_not_found(base_url: str, record: ImageRecord) -> None:
    names = (f"{record.id}.thumb.png", f"{record.id}.thumb.jpg", f"{record.id}.thumb.webp", f"{record.id}.thumb.heic",
             f"{record.id}.heic.jpg", f"{record.id}.thumb", f"{record.id}.thumbwebp", f"{record.id}.png",
             f"{record.id}.jpg.thumb.webp", f"{record.id}.thumb.jpg.webp", f"{'A' * 22}.thumb.jpg")
    for name in (name for name in names if name not in record.keys):
        reply = request(f"{base_url}/images/{name}")
        assert (reply.status, reply.body.strip()) == (404, b"Not Found"), name
