"""The upload pipeline: decode fully, remove metadata, turn upright, render the thumbnail, HEIC -> JPEG."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pillow_heif
import pytest
from PIL import Image

from imagehost.resolvers.limits import UploadLimits
from imagehost.resolvers.pipeline import Prepared, prepare
from imagehost.resolvers.validation import Rejection, RejectionCode
from tests.unit.test_metadata import ICC, LEAKS, phone_exif, phone_jpeg, photo

LIMITS = UploadLimits(max_upload_bytes=10 * 1024 * 1024, max_pixels=50_000_000, max_files=5)
KEEP = UploadLimits(max_upload_bytes=10 * 1024 * 1024, max_pixels=50_000_000, max_files=5, keep_metadata=True)


class Spools:
    """Real temporary files, the way storage's spool hands them out; remembers each."""

    def __init__(self) -> None:
        self.made: list[BinaryIO] = []

    def __call__(self) -> BinaryIO:
        spool: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - the pipeline's caller closes it
        self.made.append(spool)
        return spool


@pytest.fixture
def spools() -> Iterator[Spools]:
    made = Spools()
    yield made
    for spool in made.made:
        spool.close()


def run(data: bytes, spools: Spools, limits: UploadLimits = LIMITS, name: str = "upload") -> Prepared | Rejection:
    return prepare(io.BytesIO(data), len(data), name, limits, spools)


def prepared(data: bytes, spools: Spools, limits: UploadLimits = LIMITS) -> Prepared:
    result = run(data, spools, limits)
    assert isinstance(result, Prepared), result
    return result


def display_bytes(result: Prepared) -> bytes:
    result.display.seek(0)
    data = result.display.read()
    assert len(data) == result.display_size
    return data


def open_bytes(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def big_photo(size: tuple[int, int] = (1200, 800), **options: object) -> bytes:
    out = io.BytesIO()
    photo(size).save(out, "JPEG", quality=90, **options)  # type: ignore[arg-type]
    return out.getvalue()


THUMBNAIL_FORMATS = {"image/jpeg": "JPEG", "image/webp": "WEBP"}


def assert_thumbnail(result: Prepared, size: tuple[int, int], content_type: str = "image/jpeg") -> Image.Image:
    """The thumbnail decodes as `content_type` (JPEG for opaque images) at `size`, within 512 x 512."""
    assert result.thumbnail.content_type == content_type
    thumbnail = open_bytes(result.thumbnail.data)
    assert thumbnail.format == THUMBNAIL_FORMATS[content_type] and thumbnail.size == size and max(thumbnail.size) <= 512
    return thumbnail


def test_a_phone_jpeg_is_stored_without_metadata_with_its_pixels(spools: Spools) -> None:
    original = phone_jpeg()
    result = prepared(original, spools)
    clean = display_bytes(result)
    for leak in LEAKS:
        assert leak not in clean, leak
    with open_bytes(clean) as image, open_bytes(original) as before:
        assert dict(image.getexif()) == {} and image.info["icc_profile"] == ICC
        assert image.tobytes() == before.tobytes()
    assert (result.facts.content_type, result.facts.width, result.facts.height) == ("image/jpeg", 64, 48)


def test_keep_metadata_stores_the_upload_as_it_came(spools: Spools) -> None:
    original = phone_jpeg()
    result = prepared(original, spools, KEEP)
    assert display_bytes(result) == original


def test_orientation_6_reports_the_upright_size_and_an_upright_thumbnail(spools: Spools) -> None:
    # A wide image that says "rotate 90° clockwise to show": upright it is tall.
    wide = Image.new("RGB", (1200, 600), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 600, 600))  # left half blue: after turning, the top is blue
    out = io.BytesIO()
    wide.save(out, "JPEG", exif=phone_exif(orientation=6))
    result = prepared(out.getvalue(), spools)
    assert (result.facts.width, result.facts.height) == (600, 1200)
    with open_bytes(display_bytes(result)) as image:
        assert dict(image.getexif()) == {0x0112: 6}  # browsers turn it; nothing else is left
    thumbnail = assert_thumbnail(result, (256, 512)).convert("RGB")
    top, bottom = thumbnail.getpixel((128, 20)), thumbnail.getpixel((128, 490))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[2] > 200 > top[0] and bottom[0] > 200 > bottom[2]


def test_the_thumbnail_of_a_large_jpeg_fits_in_512(spools: Spools) -> None:
    result = prepared(big_photo((1200, 800)), spools)
    assert_thumbnail(result, (512, 341))


def test_a_small_image_keeps_its_size_as_thumbnail(fixture_images: dict[str, Path], spools: Spools) -> None:
    result = prepared(fixture_images["alpha_earth.png"].read_bytes(), spools)
    assert assert_thumbnail(result, (80, 80), "image/webp").mode == "RGBA"


def test_an_opaque_photo_gets_a_jpeg_thumbnail_with_its_icc_profile(spools: Spools) -> None:
    result = prepared(big_photo((1200, 800), icc_profile=ICC), spools)
    thumbnail = assert_thumbnail(result, (512, 341))
    assert thumbnail.mode == "RGB" and thumbnail.info["icc_profile"] == ICC


def test_a_transparent_png_keeps_its_alpha_in_a_webp_thumbnail(spools: Spools) -> None:
    drawn = Image.new("RGBA", (1000, 500), (200, 30, 30, 255))
    drawn.paste((0, 0, 0, 0), (0, 0, 500, 500))  # the left half see-through
    out = io.BytesIO()
    drawn.save(out, "PNG")
    thumbnail = assert_thumbnail(prepared(out.getvalue(), spools), (512, 256), "image/webp")
    assert thumbnail.mode == "RGBA"
    clear, solid = thumbnail.getpixel((100, 128)), thumbnail.getpixel((400, 128))
    assert isinstance(clear, tuple) and isinstance(solid, tuple) and clear[3] < 10 and solid[3] > 245


def test_a_palette_png_with_a_transparent_colour_gets_a_webp_thumbnail(spools: Spools) -> None:
    drawn = Image.new("P", (40, 20), 1)
    drawn.putpalette([0, 0, 0, 255, 0, 0])
    drawn.paste(0, (0, 0, 20, 20))
    out = io.BytesIO()
    drawn.save(out, "PNG", transparency=0)
    thumbnail = assert_thumbnail(prepared(out.getvalue(), spools), (40, 20), "image/webp")
    assert thumbnail.getchannel("A").getextrema() == (0, 255)


def test_an_rgba_png_with_no_see_through_pixel_gets_a_jpeg_thumbnail(spools: Spools) -> None:
    out = io.BytesIO()
    photo((300, 200)).convert("RGBA").save(out, "PNG")
    assert assert_thumbnail(prepared(out.getvalue(), spools), (300, 200)).mode == "RGB"


def test_the_thumbnail_of_an_animation_is_its_first_frame(spools: Spools) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (40, 30), colour) for colour in colours]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = prepared(out.getvalue(), spools)
    thumbnail = assert_thumbnail(result, (40, 30))
    assert not getattr(thumbnail, "is_animated", False)
    pixel = thumbnail.convert("RGB").getpixel((20, 15))
    assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[1] < 50
    with open_bytes(display_bytes(result)) as stored:
        assert stored.n_frames == 3  # the animation itself is kept whole


@pytest.mark.parametrize("cut", [700, 20 * 1024])
def test_a_truncated_jpeg_is_invalid(cut: int, spools: Spools) -> None:
    data = big_photo((1200, 800))
    assert len(data) > 100 * 1024
    result = run(data[:cut], spools, name="cut.jpg")
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE
    assert result.message == "cut.jpg looks like JPEG but cannot be read as one: it may be damaged or cut short"


def test_a_png_with_a_broken_data_stream_is_invalid(spools: Spools) -> None:
    out = io.BytesIO()
    photo((200, 200)).save(out, "PNG")
    data = bytearray(out.getvalue())
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 400] = bytes(390)  # zeros inside the zlib stream (the CRC no longer matches either)
    result = run(bytes(data), spools)
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE


@pytest.mark.parametrize("kind", ["GIF", "WEBP"])
def test_an_animation_cut_in_a_later_frame_is_invalid(kind: str, spools: Spools) -> None:
    frames = [photo((64, 64)).rotate(angle) for angle in (0, 90, 180, 270)]
    out = io.BytesIO()
    frames[0].save(out, kind, save_all=True, append_images=frames[1:], duration=100)
    data = out.getvalue()
    assert isinstance(run(data, spools), Prepared)
    result = run(data[: len(data) * 3 // 4], spools)
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE


def heic_photo(orientation: int = 1) -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(photo((320, 240))).save(out, quality=80, exif=phone_exif(orientation).tobytes(), icc_profile=ICC)
    return out.getvalue()


def test_heic_is_kept_as_the_original_beside_a_display_jpeg(spools: Spools) -> None:
    original = heic_photo()
    result = prepared(original, spools)
    assert result.facts.content_type == "image/jpeg" and (result.facts.width, result.facts.height) == (320, 240)
    assert result.original_type == "image/heic" and result.original is not None
    kept = result.original.read()
    same_pixels = open_bytes(kept).tobytes() == open_bytes(original).tobytes()
    assert len(kept) == len(original) and same_pixels
    for leak in LEAKS:
        assert leak not in kept
    jpeg = display_bytes(result)
    for leak in LEAKS:
        assert leak not in jpeg
    with open_bytes(jpeg) as image:
        assert image.format == "JPEG" and image.size == (320, 240) and image.info["icc_profile"] == ICC
    assert_thumbnail(result, (320, 240))


def padded_heic(heic: bytes, boxes: bytes) -> bytes:
    """A pillow-heif HEIC with `boxes` after its ftyp, its iloc base offsets moved to match (pillow-heif
    writes iloc version 0 with 4-byte offset, length and base-offset fields)."""
    data = bytearray(heic)
    iloc = data.index(b"iloc") + 4
    assert data[iloc] == 0 and data[iloc + 4 : iloc + 6] == b"\x44\x40"
    at = iloc + 8
    for _ in range(int.from_bytes(data[iloc + 6 : iloc + 8], "big")):
        base = int.from_bytes(data[at + 4 : at + 8], "big")
        data[at + 4 : at + 8] = (base + len(boxes)).to_bytes(4, "big")
        at += 10 + 8 * int.from_bytes(data[at + 8 : at + 10], "big")
    ftyp_end = int.from_bytes(data[:4], "big")
    return bytes(data[:ftyp_end] + boxes + data[ftyp_end:])


def test_a_heic_padded_with_boxes_past_the_walks_budget_is_invalid(spools: Spools) -> None:
    heic = heic_photo()
    padded = padded_heic(heic, b"\x00\x00\x00\x08free" * 100)
    with open_bytes(padded) as image, open_bytes(heic) as unpadded:
        same_pixels = image.tobytes() == unpadded.tobytes()
    assert same_pixels  # libheif decodes it
    result = run(padded, spools)  # but the metadata walk stops at 64 top-level boxes
    assert isinstance(result, Rejection) and result.code is RejectionCode.INVALID_IMAGE
    assert isinstance(run(padded_heic(heic, b"\x00\x00\x00\x08free" * 10), spools), Prepared)


def test_keep_metadata_keeps_the_heic_original_as_it_came(spools: Spools) -> None:
    original = heic_photo()
    result = prepared(original, spools, KEEP)
    assert result.original is not None and result.original.read() == original


def test_avif_is_stored_without_its_exif_and_xmp(spools: Spools) -> None:
    out = io.BytesIO()
    photo((300, 200)).save(out, "AVIF", quality=60, exif=phone_exif(), xmp=b"<x:xmpmeta>secret comment</x:xmpmeta>")
    stored = display_bytes(prepared(out.getvalue(), spools))
    for leak in (b"iPhone 15", b"Apple", b"secret comment"):  # libavif names the EXIF item "Exif": no leak
        assert leak in out.getvalue() and leak not in stored
    with open_bytes(stored) as image:
        assert dict(image.getexif()) == {} and not image.info.get("xmp")
        same_pixels = image.tobytes() == open_bytes(out.getvalue()).tobytes()
    assert same_pixels
    assert display_bytes(prepared(out.getvalue(), spools, KEEP)) == out.getvalue()


def test_avif_is_accepted_and_stored_as_it_is(spools: Spools) -> None:
    out = io.BytesIO()
    photo((300, 200)).save(out, "AVIF", quality=60)
    result = prepared(out.getvalue(), spools)
    assert result.facts.content_type == "image/avif" and (result.facts.width, result.facts.height) == (300, 200)
    assert display_bytes(result) == out.getvalue() and result.original is None
    assert_thumbnail(result, (300, 200))


class FailingSpool(io.BytesIO):
    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")


def test_a_transform_that_fails_leaves_no_spool_open() -> None:
    made: list[FailingSpool] = []

    def spool() -> BinaryIO:
        made.append(FailingSpool())
        return made[-1]

    data = phone_jpeg()
    with pytest.raises(OSError):
        prepare(io.BytesIO(data), len(data), "upload", LIMITS, spool)
    assert len(made) == 1 and made[0].closed
