"""Looking at stored image bytes from the outside: downloads, metadata left in them, pixels.

Shared by tests/e2e/test_images_stored.py (`imagehost serve`) and tests/stack/test_stack_images.py
(Nginx in front). Everything here reads only what a client can download.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from PIL import Image, ImageChops, ImageOps, ImageStat
from pillow_heif import register_heif_opener

register_heif_opener()  # so Pillow opens the HEIC originals the server keeps

REAL_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "real_images"
ORIENTATION = 0x0112
GPS_IFD = 0x8825
THUMBNAIL_BOX = 512
THUMBNAIL_TYPES = {"image/webp": "WEBP", "image/jpeg": "JPEG"}
# Every format the contract names; a refusal of another type must name all of them.
ACCEPTED_NAMES = ("JPEG", "PNG", "GIF", "WebP", "AVIF", "HEIC")
# Pillow `info` keys that carry metadata the contract says is removed.
METADATA_INFO_KEYS = ("xmp", "XML:com.adobe.xmp", "photoshop", "iptc", "comment",
                      "Raw profile type exif", "Raw profile type iptc", "Raw profile type xmp")
# JPEG APPn segments a private JPEG may keep: JFIF (APP0), ICC profile (APP2 "ICC_PROFILE"),
# Adobe colour transform (APP14, needed to decode CMYK/YCCK right), and EXIF (APP1) only when it
# holds nothing but the Orientation tag (checked separately). The same goes for PNG's eXIf and
# WebP's EXIF chunks: `getexif()` must show Orientation alone.
PNG_METADATA_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"tIME"}
WEBP_METADATA_CHUNKS = {b"XMP "}


def real(name: str) -> bytes:
    return (REAL_DIR / name).read_bytes()


@dataclass(frozen=True)
class Download:
    status: int
    headers: Message
    body: bytes


def download(url: str, headers: dict[str, str] | None = None) -> Download:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Download(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Download(error.code, error.headers, error.read())


def sibling_url(url: str, extension: str) -> str:
    """The URL of the same image id with another extension (`.../abc.jpg` -> `.../abc.heic`)."""
    return url.rsplit(".", 1)[0] + "." + extension


def jpeg_segments(data: bytes) -> list[tuple[int, int, bytes]]:
    """(marker, offset, payload) of every segment of a JPEG up to and including its first scan."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    segments: list[tuple[int, int, bytes]] = []
    offset = 2
    while offset + 4 <= len(data):
        assert data[offset] == 0xFF, f"no marker at {offset}"
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        length = int.from_bytes(data[offset + 2:offset + 4], "big")
        segments.append((marker, offset, data[offset + 4:offset + 2 + length]))
        if marker == 0xDA:  # SOS: entropy-coded data follows
            break
        offset += 2 + length
    return segments


def jpeg_scan_data(data: bytes) -> bytes:
    """The compressed image data: everything from the first SOS marker to the end."""
    marker, offset, _payload = jpeg_segments(data)[-1]
    assert marker == 0xDA, "no scan"
    return data[offset:]


def png_chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    types, offset = [], 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        types.append(data[offset + 4:offset + 8])
        offset += 12 + length
    return types


def webp_chunk_types(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", "not a WebP"
    types, offset = [], 12
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset + 4:offset + 8], "little")
        types.append(data[offset:offset + 4])
        offset += 8 + length + (length & 1)
    return types


def assert_private(data: bytes, secrets: tuple[bytes, ...] = ()) -> None:
    """No EXIF other than Orientation, no GPS, XMP, IPTC or comments, in any frame; none of the
    original's `secrets` (camera make, place names, XMP namespace ...) anywhere in the bytes."""
    for secret in secrets:
        assert secret not in data, f"{secret!r} is still in the stored bytes"
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        assert set(exif) <= {ORIENTATION}, f"EXIF tags left: {sorted(exif)}"
        assert not exif.get_ifd(GPS_IFD), "GPS left"
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            left = [key for key in METADATA_INFO_KEYS if image.info.get(key)]
            assert not left, f"frame {frame} keeps {left}"
        image_format = image.format
    if image_format == "JPEG":
        for marker, _offset, payload in jpeg_segments(data):
            assert marker != 0xFE, "a JPEG comment (COM) is left"
            assert marker != 0xED, "an APP13 (Photoshop/IPTC) segment is left"
            assert not payload.startswith(b"http://ns.adobe.com/"), "an XMP segment is left"
            if 0xE0 <= marker <= 0xEF:
                kept = {(0xE0, b"JFIF"), (0xE1, b"Exif"), (0xE2, b"ICC_"), (0xEE, b"Adob")}
                assert (marker, payload[:4]) in kept, f"APP{marker - 0xE0} {payload[:12]!r} left"
    elif image_format == "PNG":
        left_chunks = PNG_METADATA_CHUNKS & set(png_chunk_types(data))
        assert not left_chunks, f"PNG metadata chunks left: {left_chunks}"
    elif image_format == "WEBP":
        left_chunks = WEBP_METADATA_CHUNKS & set(webp_chunk_types(data))
        assert not left_chunks, f"WebP metadata chunks left: {left_chunks}"


def decoded(data: bytes) -> Image.Image:
    """The decoded (first frame of the) image, keeping `format` and `info` (a copy would not)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def upright(data: bytes) -> Image.Image:
    """The image as it is meant to be shown: its EXIF orientation (if any is left) applied."""
    with Image.open(io.BytesIO(data)) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference per channel (0-255) of two RGB images of one size."""
    assert first.size == second.size, (first.size, second.size)
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    channels = ImageStat.Stat(difference).mean
    return sum(channels) / len(channels)


def assert_fits_thumbnail_box(thumbnail: Image.Image, width: int, height: int) -> None:
    """Fits in 512x512 and keeps the upright image's aspect ratio (to a pixel's rounding)."""
    thumb_width, thumb_height = thumbnail.size
    assert thumb_width <= THUMBNAIL_BOX and thumb_height <= THUMBNAIL_BOX, thumbnail.size
    assert abs(thumb_width * height - thumb_height * width) <= max(width, height), (
        thumbnail.size, (width, height))
