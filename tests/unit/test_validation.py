"""Judging uploads by their bytes: every format and every refusal code."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from imagehost.resolvers.limits import UploadLimits
from imagehost.resolvers.validation import ImageFacts, Rejection, RejectionCode, inspect_image, sniff_content_type

LIMITS = UploadLimits(max_upload_bytes=1024 * 1024, max_pixels=1_000_000, max_files=5)


def inspect(data: bytes, limits: UploadLimits = LIMITS, name: str = "upload") -> ImageFacts | Rejection:
    return inspect_image(io.BytesIO(data), len(data), name, limits)


@pytest.mark.parametrize(
    ("name", "content_type", "size"),
    [
        ("photo_rocket.jpg", "image/jpeg", (640, 427)),
        ("photo_coffee.jpg", "image/jpeg", (600, 400)),
        ("alpha_earth.png", "image/png", (80, 80)),
        ("anim_throbber.gif", "image/gif", (32, 32)),
        ("photo_chelsea.webp", "image/webp", (451, 300)),
        ("anim_throbber.webp", "image/webp", (32, 32)),
    ],
)
def test_real_images_are_accepted_with_type_and_size(
    fixture_images: dict[str, Path], name: str, content_type: str, size: tuple[int, int]
) -> None:
    facts = inspect(fixture_images[name].read_bytes())
    assert facts == ImageFacts(content_type, *size)


def test_animated_gif_is_accepted_as_gif(fixture_images: dict[str, Path]) -> None:
    with Image.open(fixture_images["anim_throbber.gif"]) as image:
        assert image.is_animated
    assert isinstance(inspect(fixture_images["anim_throbber.gif"].read_bytes()), ImageFacts)


def test_type_comes_from_bytes_not_name(fixture_images: dict[str, Path]) -> None:
    facts = inspect(fixture_images["photo_rocket.jpg"].read_bytes(), name="picture.png")
    assert isinstance(facts, ImageFacts)
    assert facts.content_type == "image/jpeg"


def test_pdf_named_jpg_is_unsupported() -> None:
    result = inspect(b"%PDF-1.7\n1 0 obj << >> endobj\n", name="cat.jpg")
    assert isinstance(result, Rejection)
    assert result.code is RejectionCode.UNSUPPORTED_TYPE
    assert result.message == "cat.jpg is not an image: use JPEG, PNG, GIF or WebP"


@pytest.mark.parametrize(
    "data",
    [b"BM6\x00\x00\x00", b"II*\x00", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"\x00" * 64, b"hello"],
    ids=["bmp", "tiff", "svg", "zeros", "text"],
)
def test_other_formats_are_unsupported(data: bytes) -> None:
    result = inspect(data)
    assert isinstance(result, Rejection) and result.code is RejectionCode.UNSUPPORTED_TYPE


def test_empty_file_is_invalid() -> None:
    result = inspect(b"", name="empty.png")
    assert isinstance(result, Rejection)
    assert (result.code, result.message) == (RejectionCode.INVALID_IMAGE, "empty.png is empty")


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, b"GIF89a" + b"\x00" * 3, b"RIFF\x10\x00\x00\x00WEBPVP8 junk", b"\xff\xd8\xff\xe0" + b"\x00" * 8],
    ids=["png", "gif", "webp", "jpeg"],
)
def test_signature_without_a_readable_header_is_invalid(data: bytes) -> None:
    result = inspect(data)
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE


def test_png_with_broken_chunk_checksum_is_invalid(fixture_images: dict[str, Path]) -> None:
    data = bytearray(fixture_images["alpha_earth.png"].read_bytes())
    data[-20] ^= 0xFF  # inside the last data chunk: the header still parses, the CRC does not
    result = inspect(bytes(data))
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE


def test_over_the_byte_limit_is_too_large(fixture_images: dict[str, Path]) -> None:
    data = fixture_images["photo_rocket.jpg"].read_bytes()
    limits = UploadLimits(max_upload_bytes=len(data) - 1, max_pixels=10**9, max_files=1)
    result = inspect(data, limits, name="rocket.jpg")
    assert isinstance(result, Rejection) and result.code is RejectionCode.TOO_LARGE
    assert "rocket.jpg is larger than the" in result.message


def test_exactly_at_the_byte_limit_is_accepted(fixture_images: dict[str, Path]) -> None:
    data = fixture_images["photo_rocket.jpg"].read_bytes()
    limits = UploadLimits(max_upload_bytes=len(data), max_pixels=10**9, max_files=1)
    assert isinstance(inspect(data, limits), ImageFacts)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height; no pixel data is ever made."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_over_the_pixel_limit_is_refused_from_the_header() -> None:
    result = inspect(png_header_only(2000, 1000), name="wide.png")  # 2,000,000 > 1,000,000
    assert isinstance(result, Rejection) and result.code is RejectionCode.TOO_MANY_PIXELS
    assert "2000 x 1000" in result.message


def test_decompression_bomb_is_refused_without_decoding() -> None:
    # 100,000 x 100,000 = 10 gigapixels: decoding it would need ~30 GB; the header says enough.
    bomb = png_header_only(100_000, 100_000)
    limits = UploadLimits(max_upload_bytes=1024, max_pixels=50_000_000, max_files=1)
    result = inspect(bomb, limits)
    assert isinstance(result, Rejection) and result.code is RejectionCode.TOO_MANY_PIXELS


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xdb", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\x89PNX", None),
    ],
)
def test_signatures(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected
