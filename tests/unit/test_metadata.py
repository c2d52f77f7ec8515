"""Metadata removal: no EXIF/XMP/IPTC/comment left in the bytes, ICC and image data kept as they were."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pillow_heif
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


# -- HEIC and AVIF: metadata items blanked in place ------------------------------------------

pillow_heif.register_heif_opener()  # what the server's decoding module does at import
REAL_IMAGES = Path(__file__).parents[1] / "fixtures" / "real_images"
GPS_AND_XMP_LEAKS = (b"iPhone 15", b"Apple", b"x:xmpmeta", b"ns.adobe.com/xap")


def phone_heic() -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(photo((96, 64))).save(out, quality=80, exif=phone_exif().tobytes(), xmp=XMP, icc_profile=ICC)
    return out.getvalue()


def phone_avif() -> bytes:
    out = io.BytesIO()
    photo((96, 64)).save(out, "AVIF", quality=80, exif=phone_exif(), xmp=XMP, icc_profile=ICC)
    return out.getvalue()


ISOBMFF = {"image/heic": phone_heic, "image/avif": phone_avif}


@pytest.mark.parametrize("content_type", list(ISOBMFF))
def test_heic_and_avif_lose_exif_and_xmp_and_keep_icc_pixels_and_every_other_byte(content_type: str) -> None:
    original = ISOBMFF[content_type]()
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif()[0x8825] and image.info["xmp"] and image.info["icc_profile"] == ICC  # leaks to begin with
    clean = stripped(content_type, original)
    for leak in GPS_AND_XMP_LEAKS:
        assert leak in original and leak not in clean, leak
    with Image.open(io.BytesIO(clean)) as image:
        assert dict(image.getexif()) == {} and not image.info.get("xmp") and not image.info.get("exif")
        assert image.info["icc_profile"] == ICC
    assert decoded(clean) == decoded(original)
    # Same length, and only the metadata items' bytes (and their 4-byte types) changed: the
    # coded image, the ICC profile and every offset stay as they were.
    assert len(clean) == len(original)
    changed = [at for at, (before, after) in enumerate(zip(original, clean)) if before != after]
    exif, xmp = phone_exif().tobytes(), XMP
    assert 0 < len(changed) <= len(exif) + len(xmp) + 4 + 2 * 4
    assert ICC in clean


def test_libheif_reports_no_exif_or_xmp_after_blanking() -> None:
    clean = stripped("image/heic", phone_heic())
    info = pillow_heif.open_heif(io.BytesIO(clean)).info
    assert info.get("exif") is None and "xmp" not in info
    assert all(set(item["data"]) <= {0} for item in info["metadata"])  # blanked items hold only zeros


def test_the_real_heic_loses_exif_xmp_and_iptc() -> None:
    original = (REAL_IMAGES / "L_exif_xmp_iptc.heic").read_bytes()
    clean = stripped("image/heic", original)
    for leak in (b"SONY", b"x:xmpmeta", b"Budapest"):
        assert leak in original and leak not in clean, leak
    assert decoded(clean) == decoded(original)
    assert original[original.index(b"mdat") :].count(b"\x00") < clean[clean.index(b"mdat") :].count(b"\x00")


@pytest.mark.parametrize("name", ["hopper.avif", "icc_profile.avif", "star.avifs", "RGB_8__29x100.heif"])
def test_heic_and_avif_without_metadata_come_out_byte_identical(name: str) -> None:
    data = (REAL_IMAGES / name).read_bytes()
    assert stripped("image/heic" if name.endswith(".heif") else "image/avif", data) == data


def box_length_set(data: bytes, kind: bytes, length: int) -> bytes:
    at = data.index(kind) - 4
    return data[:at] + struct.pack(">I", length) + data[at + 4 :]


def iloc_extent(data: bytes) -> int:
    """Where the iloc's last extent length lies (pillow-heif writes 4-byte fields; its XMP's)."""
    iloc = data.index(b"iloc") - 4
    return iloc + struct.unpack(">I", data[iloc : iloc + 4])[0] - 4


def after_ftyp(data: bytes, boxes: bytes) -> bytes:
    ftyp_end = struct.unpack(">I", data[:4])[0]
    return data[:ftyp_end] + boxes + data[ftyp_end:]


@pytest.mark.parametrize(
    "breakage",
    [
        lambda data: data[: data.index(b"iinf") + 40],
        lambda data: box_length_set(data, b"iinf", 0x7FFF_FFFF),
        lambda data: after_ftyp(data, b"\x00\x00\x00\x08free" * 100),
        lambda data: data[: iloc_extent(data)] + struct.pack(">I", len(data)) + data[iloc_extent(data) + 4 :],
    ],
    ids=["cut-in-meta", "box-past-its-parent", "100-boxes-before-meta", "item-past-the-end"],
)
def test_a_heic_whose_boxes_cannot_be_followed_is_damaged(breakage: Callable[[bytes], bytes]) -> None:
    data = breakage(phone_heic())
    with pytest.raises(Damaged):
        strip("image/heic", io.BytesIO(data), len(data), 1)


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def test_an_iloc_of_empty_fields_stops_at_the_extent_budget() -> None:
    # offset and length fields 0 bytes wide: 1,000 items x 65,535 extents in a 9 KB table.
    infe = box(b"infe", b"\x02\x00\x00\x00" + struct.pack(">HH", 1, 0) + b"Exif\x00")
    iinf = box(b"iinf", b"\x00" * 4 + struct.pack(">H", 1) + infe)
    items = b"".join(struct.pack(">HHH", 1, 0, 0xFFFF) for _ in range(1000))
    iloc = box(b"iloc", b"\x00" * 4 + b"\x00\x00" + struct.pack(">H", 1000) + items)
    data = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic") + box(b"meta", b"\x00" * 4 + iinf + iloc)
    with pytest.raises(Damaged, match="extents"):
        strip("image/heic", io.BytesIO(data), len(data), 1)
