"""Metadata removal: no EXIF/XMP/IPTC/comment left in the bytes, ICC and image data kept as they were."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from imagehost.resolvers.metadata import Damaged, strip, write_pieces
from tests.imagedata import jpeg_segment

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com/xap/1.0/"/></x:xmpmeta>'
LEAKS = (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"Photoshop 3.0", b"iPhone 15", b"secret comment")


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif[0x0132] = "2026:01:01 10:00:00"
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.5), 3: "E", 4: (4.0, 53.0, 2.0)}
    return exif


def photo(size: tuple[int, int] = (64, 48)) -> Image.Image:
    red = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (red, Image.effect_noise(size, 40), red.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def phone_jpeg(orientation: int = 1, progressive: bool = False) -> bytes:
    """A JPEG with everything a phone and an editor leave: EXIF with GPS, XMP, IPTC, a comment,
    an ICC profile, and an MPF-style second JPEG with its own EXIF after the end."""
    out = io.BytesIO()
    photo().save(out, "JPEG", exif=phone_exif(orientation), icc_profile=ICC, comment=b"secret comment", progressive=progressive)
    data = out.getvalue()
    extra = jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP) + jpeg_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x00")
    trailer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(trailer, "JPEG", exif=phone_exif())
    return data[:2] + extra + data[2:] + trailer.getvalue()


def stripped(content_type: str, data: bytes, orientation: int = 1) -> bytes:
    source, out = io.BytesIO(data), io.BytesIO()
    write_pieces(strip(content_type, source, len(data), orientation), source, out)
    return out.getvalue()


def decoded(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def assert_no_metadata(data: bytes) -> None:
    for leak in LEAKS:
        assert leak not in data, leak
    with Image.open(io.BytesIO(data)) as image:
        assert dict(image.getexif()) == {}
        assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp", "photoshop"} & set(image.info)


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_loses_all_metadata_and_keeps_icc_and_pixels(progressive: bool) -> None:
    original = phone_jpeg(progressive=progressive)
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif()[0x8825] and image.info["icc_profile"] == ICC  # the leaks are there to begin with
    clean = stripped("image/jpeg", original)
    assert_no_metadata(clean)
    with Image.open(io.BytesIO(clean)) as image:
        assert image.info["icc_profile"] == ICC
    assert decoded(clean) == decoded(original)
    # Only headers went: the compressed image data is byte for byte the same.
    scan = original.index(b"\xff\xda")
    assert original[scan : original.index(b"\xff\xd9", scan) + 2] in clean


def test_a_turned_jpeg_keeps_only_its_orientation() -> None:
    clean = stripped("image/jpeg", phone_jpeg(orientation=6), orientation=6)
    with Image.open(io.BytesIO(clean)) as image:
        assert dict(image.getexif()) == {0x0112: 6}
    for leak in LEAKS[1:]:
        assert leak not in clean
    assert b"GPS" not in clean


def test_png_loses_text_exif_and_time_and_keeps_icc() -> None:
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Comment", "secret comment")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    photo().save(out, "PNG", pnginfo=info, exif=phone_exif(), icc_profile=ICC)
    original = out.getvalue()
    original = original[:-12] + struct.pack(">I", 7) + b"tIME" + b"\x07\xea\x01\x01\x00\x00\x00" + struct.pack(">I", zlib.crc32(b"tIME\x07\xea\x01\x01\x00\x00\x00")) + original[-12:]
    clean = stripped("image/png", original)
    assert_no_metadata(clean)
    assert b"tIME" not in clean and b"eXIf" not in clean
    with Image.open(io.BytesIO(clean)) as image:
        assert image.info["icc_profile"] == ICC
    assert decoded(clean) == decoded(original)


def test_gif_loses_comments_and_xmp_and_keeps_looping() -> None:
    frames = [Image.new("RGB", (8, 8), (80 * index, 0, 0)).convert("P") for index in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=0, comment=b"secret comment", duration=50)
    data = out.getvalue()
    xmp_block = b"\x21\xff\x0bXMP DataXMP" + bytes((len(XMP[:200]),)) + XMP[:200] + b"\x00"
    original = data[:-1] + xmp_block + data[-1:]
    clean = stripped("image/gif", original)
    assert b"secret comment" not in clean and b"XMP DataXMP" not in clean and b"NETSCAPE2.0" in clean
    with Image.open(io.BytesIO(clean)) as image:
        assert image.n_frames == 3 and image.info["loop"] == 0 and "comment" not in image.info


def test_webp_loses_exif_and_xmp_and_its_flags_say_so() -> None:
    out = io.BytesIO()
    photo().save(out, "WEBP", exif=phone_exif().tobytes(), xmp=XMP, icc_profile=ICC, lossless=True)
    original = out.getvalue()
    clean = stripped("image/webp", original)
    assert_no_metadata(clean)
    assert b"EXIF" not in clean and b"XMP " not in clean
    flags = clean[clean.index(b"VP8X") + 8]
    assert not flags & 0x0C and flags & 0x20  # no EXIF/XMP flag, the ICC flag kept
    assert struct.unpack("<I", clean[4:8])[0] == len(clean) - 8
    with Image.open(io.BytesIO(clean)) as image:
        assert image.info["icc_profile"] == ICC
    assert decoded(clean) == decoded(original)


def test_real_fixtures_keep_their_pixels(fixture_images: dict[str, Path]) -> None:
    types = {".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}
    for name, path in fixture_images.items():
        data = path.read_bytes()
        assert decoded(stripped(types[path.suffix], data)) == decoded(data), name


@pytest.mark.parametrize(
    ("content_type", "cut"),
    [("image/jpeg", 700), ("image/png", -20), ("image/gif", -2), ("image/webp", -10)],
)
def test_a_cut_file_is_damaged(content_type: str, cut: int) -> None:
    frames = [photo((32, 32)).convert("P"), photo((32, 32)).rotate(90).convert("P")]
    out = io.BytesIO()
    kind = content_type.split("/")[1].upper()
    if content_type == "image/jpeg":
        photo((256, 256)).save(out, "JPEG")
    else:
        frames[0].save(out, kind, save_all=True, append_images=frames[1:])
    data = out.getvalue()[:cut]
    with pytest.raises(Damaged):
        strip(content_type, io.BytesIO(data), len(data), 1)
