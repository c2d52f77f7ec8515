"""Judging uploads by their bytes: every format and every refusal code."""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from imagehost.resolvers import gif_structure, jpeg_structure, png_structure, webp_structure
from imagehost.resolvers.jpeg_structure import scan_jpeg
from imagehost.resolvers.limits import UploadLimits
from imagehost.resolvers.structure_budget import ANIMATION_FRAMES, FileView, OverBudget
from imagehost.resolvers.validation import (
    STRUCTURE_SCANNERS,
    ImageFacts,
    Rejection,
    RejectionCode,
    inspect_image,
    sniff_content_type,
)

from tests.imagedata import (
    drawn_jpeg,
    drawn_png,
    gif_with_comment_blocks,
    gif_with_frames,
    jpeg_segment,
    jpeg_with_exif_bytes,
    jpeg_with_fill_bytes,
    jpeg_with_photoshop_blocks,
    jpeg_with_prefix,
    jpeg_with_quantization_tables,
    jpeg_with_restart_markers,
    jpeg_with_scans,
    jpeg_with_segments,
    png_chunk,
    png_with_chunks,
    png_with_inflated_metadata,
    webp_with_chunks,
    webp_with_frames,
)

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
    assert result.message == "cat.jpg is not an image: use JPEG, PNG, GIF, WebP, AVIF or HEIC"


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


# Structure budgets: each one at its edge (accepted, with its facts; one piece more refused),
# and files of millions of tiny pieces refused within a time bound.

# A drawn 8 x 6 JPEG's segments after SOI: APP0, 2 DQT, SOF0, 4 DHT, SOS, EOI. Its PNG's chunks:
# IHDR, IDAT, IEND. Its GIF's blocks: the frame's control extension, descriptor and one sub-block
# each. An edge test that is off by one here fails on one side.
DRAWN_JPEG_SEGMENTS = 10
DRAWN_JPEG_TABLES = 2
DRAWN_PNG_CHUNKS = 3
GIF_COMMENT_AND_FRAME_BLOCKS = 5
BUDGET_LIMITS = UploadLimits(max_upload_bytes=11 * 1024 * 1024, max_pixels=50_000_000, max_files=1)
JPEG_8X6 = ImageFacts("image/jpeg", 8, 6)
PNG_8X6 = ImageFacts("image/png", 8, 6)


def inspect_timed(data: bytes) -> tuple[ImageFacts | Rejection, float]:
    started = time.perf_counter()
    result = inspect(data, BUDGET_LIMITS, name="odd.img")
    return result, time.perf_counter() - started


@dataclass(frozen=True)
class Edge:
    make: Callable[[int], bytes]
    at_budget: int  # the count `make` is given for a file exactly at the budget
    reason: str
    facts: ImageFacts


EDGES = {
    "jpeg-segments": Edge(
        jpeg_with_segments, jpeg_structure.SEGMENTS_FLOOR - DRAWN_JPEG_SEGMENTS, "over 1,000 marker segments", JPEG_8X6
    ),
    "jpeg-restart-markers": Edge(
        jpeg_with_restart_markers,
        jpeg_structure.SEGMENTS_FLOOR - DRAWN_JPEG_SEGMENTS,
        "over 1,000 marker segments",
        JPEG_8X6,
    ),
    "jpeg-fill-bytes": Edge(
        jpeg_with_fill_bytes, jpeg_structure.STRAY_BYTES, "over 4,096 stray bytes between the segments", JPEG_8X6
    ),
    "jpeg-junk-bytes": Edge(
        lambda count: jpeg_with_prefix(jpeg_segment(0xFE) + b"\x00" * count),
        jpeg_structure.STRAY_BYTES,
        "over 4,096 stray bytes between the segments",
        JPEG_8X6,
    ),
    "jpeg-quantization-tables": Edge(
        jpeg_with_quantization_tables,
        jpeg_structure.QUANTIZATION_TABLES - DRAWN_JPEG_TABLES,
        "over 64 quantization tables",
        JPEG_8X6,
    ),
    "jpeg-exif": Edge(jpeg_with_exif_bytes, jpeg_structure.EXIF_BYTES, "over 128 KiB of Exif data", JPEG_8X6),
    "jpeg-photoshop": Edge(
        jpeg_with_photoshop_blocks, jpeg_structure.PHOTOSHOP_BLOCKS, "over 10,000 Photoshop resource blocks", JPEG_8X6
    ),
    "jpeg-scans": Edge(jpeg_with_scans, jpeg_structure.SCANS, "over 256 scans", JPEG_8X6),
    "png-chunks": Edge(png_with_chunks, png_structure.CHUNKS_FLOOR - DRAWN_PNG_CHUNKS, "over 10,000 chunks", PNG_8X6),
    "png-chunks-before-image-data": Edge(
        lambda count: png_with_chunks(count, b"tEXt", before_image_data=True),
        png_structure.CHUNKS_BEFORE_IMAGE_DATA - 1,
        "over 1,000 chunks before its image data",
        PNG_8X6,
    ),
    **{
        f"png-inflated-{kind.decode()}": Edge(
            partial(png_with_inflated_metadata, kind=kind),
            png_structure.INFLATED_METADATA_BYTES,
            "over 8 MiB of text and colour profiles once inflated",
            PNG_8X6,
        )
        for kind in (b"zTXt", b"iTXt", b"iCCP")
    },
    "gif-blocks": Edge(
        gif_with_comment_blocks,
        gif_structure.BLOCKS_FLOOR - GIF_COMMENT_AND_FRAME_BLOCKS,
        "over 50,000 blocks",
        ImageFacts("image/gif", 1, 1),
    ),
    "gif-frames": Edge(gif_with_frames, ANIMATION_FRAMES, "over 10,000 frames", ImageFacts("image/gif", 1, 1)),
    "webp-chunks": Edge(
        webp_with_chunks, webp_structure.OTHER_CHUNKS - 1, "over 1,000 chunks besides its frames", ImageFacts("image/webp", 8, 6)
    ),
    "webp-frames": Edge(webp_with_frames, ANIMATION_FRAMES, "over 10,000 frames", ImageFacts("image/webp", 1, 1)),
}


@pytest.mark.parametrize("edge", EDGES.values(), ids=EDGES.keys())
def test_a_file_at_a_structure_budget_is_accepted_and_one_piece_more_is_refused(edge: Edge) -> None:
    within, within_seconds = inspect_timed(edge.make(edge.at_budget))
    assert within == edge.facts
    over, over_seconds = inspect_timed(edge.make(edge.at_budget + 1))
    assert isinstance(over, Rejection) and over.code is RejectionCode.INVALID_IMAGE
    assert over.message.startswith(f"odd.img has an unusual structure ({edge.reason}")
    assert over.message.endswith(") and was refused: save it again with an image editor")
    # Small files, but the worst a budget lets through: each costs Pillow ~1-50 ms here.
    assert within_seconds < 0.5 and over_seconds < 0.5


# Files of millions of pieces, each ~10 MB: before the budgets Pillow took 0.75-5 s and up to
# +420 MB on each (see the report of issue 12); now each is refused within a few milliseconds.
HUGE = {
    "jpeg-2.6M-comments": (lambda: jpeg_with_segments(2_600_000), "over 1,000 marker segments"),
    "jpeg-2.6M-app1": (lambda: jpeg_with_segments(2_600_000, 0xE1), "over 1,000 marker segments"),
    "jpeg-10M-fill-bytes": (lambda: jpeg_with_fill_bytes(10_000_000), "over 4,096 stray bytes"),
    "jpeg-5M-restart-markers": (lambda: jpeg_with_restart_markers(5_000_000), "over 1,000 marker segments"),
    "jpeg-150k-tables": (lambda: jpeg_with_quantization_tables(150_000), "over 64 quantization tables"),
    "jpeg-100k-scans": (lambda: jpeg_with_scans(100_000), "over 256 scans"),
    "png-870k-chunks": (lambda: png_with_chunks(870_000), "over 10,"),
    "png-870k-text-chunks": (lambda: png_with_chunks(870_000, b"tEXt", True), "over 1,000 chunks before"),
    "png-64MB-of-text": (lambda: png_with_inflated_metadata(64_000_000), "over 8 MiB of text"),
    "gif-5M-comment-blocks": (lambda: gif_with_comment_blocks(5_000_000), "over 78,125 blocks"),
    "gif-400k-frames": (lambda: gif_with_frames(400_000), "over 10,000 frames"),
    "webp-1M-chunks": (lambda: webp_with_chunks(1_000_000), "over 1,000 chunks"),
}


@pytest.mark.parametrize(("make", "reason"), HUGE.values(), ids=HUGE.keys())
def test_a_file_of_millions_of_pieces_is_refused_quickly(make: Callable[[], bytes], reason: str) -> None:
    result, seconds = inspect_timed(make())
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE
    assert f"({reason}" in result.message
    assert seconds < 0.25, f"{seconds * 1000:.0f} ms"


def test_the_refusal_names_the_file_and_what_to_do() -> None:
    result = inspect(jpeg_with_segments(2_000), BUDGET_LIMITS, name="holiday.jpg")
    assert result == Rejection(
        RejectionCode.INVALID_IMAGE,
        "holiday.jpg has an unusual structure (over 1,000 marker segments) and was refused: "
        "save it again with an image editor",
        "holiday.jpg",
    )


def test_the_budgets_grow_with_the_file() -> None:
    # 19,000 image-data chunks: a 21 MB PNG may have them (one per KiB), a small one may not
    # (the floor is 10,000).
    kib_chunk = png_chunk(b"IDAT", b"\x00" * 1088)
    base = drawn_png()
    end = base.index(b"IEND") - 4
    data = base[:end] + kib_chunk * 19_000 + base[end:]
    limits = UploadLimits(max_upload_bytes=len(data), max_pixels=50_000_000, max_files=1)
    assert inspect(data, limits) == PNG_8X6
    assert isinstance(inspect(png_with_chunks(19_000), limits), Rejection)


@pytest.mark.parametrize("name", ["photo_rocket.jpg", "photo_coffee.jpg", "alpha_earth.png", "anim_throbber.gif", "photo_chelsea.webp", "anim_throbber.webp"])
def test_real_images_are_within_every_budget_through_a_tiny_window(fixture_images: dict[str, Path], name: str) -> None:
    # A 7-byte window puts window edges inside every header and marker the scanners read.
    data = fixture_images[name].read_bytes()
    content_type = sniff_content_type(data[:16])
    assert content_type is not None
    STRUCTURE_SCANNERS[content_type](FileView(io.BytesIO(data), len(data), window_bytes=7))


@pytest.mark.parametrize("edge", EDGES.values(), ids=EDGES.keys())
def test_a_tiny_window_sees_the_same_budgets(edge: Edge) -> None:
    def scan(data: bytes) -> str | None:
        content_type = sniff_content_type(data[:16])
        assert content_type is not None
        try:
            STRUCTURE_SCANNERS[content_type](FileView(io.BytesIO(data), len(data), window_bytes=7))
        except OverBudget as over:
            return over.reason
        return None

    assert scan(edge.make(edge.at_budget)) is None
    reason = scan(edge.make(edge.at_budget + 1))
    assert reason is not None and reason.startswith(edge.reason)


def test_a_search_finds_a_marker_across_a_window_edge() -> None:
    data = b"\x00" * 6 + b"\xff\xd9" + b"\x00" * 6  # the marker straddles the first 7-byte window
    view = FileView(io.BytesIO(data), len(data), window_bytes=7)
    assert view.search(jpeg_structure.NEXT_MARKER, 0, overlap=1) == 6
    assert view.search(jpeg_structure.NEXT_MARKER, 7, overlap=1) == -1


def test_a_declared_size_larger_than_the_file_ends_the_scan() -> None:
    data = drawn_jpeg()
    view = FileView(io.BytesIO(data[:-2]), len(data) + 1000, window_bytes=7)  # no EOI, a short file
    scan_jpeg(view)  # returns: Pillow judges the rest
