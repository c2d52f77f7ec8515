"""Small images drawn on the spot, for tests that need many or odd ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def drawn_png(width: int = 8, height: int = 6, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


# Pathological files: valid enough for Pillow to accept, shaped to make a parser work per tiny
# piece. Each is built by repeating one small byte string, so even the 10 MB ones take
# milliseconds to make.


def drawn_jpeg(width: int = 8, height: int = 6, progressive: bool = False) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "JPEG", progressive=progressive)
    return buffer.getvalue()


def jpeg_segment(marker: int, payload: bytes = b"") -> bytes:
    """One JPEG marker segment: 0xFF, the marker, a two-byte length that counts itself."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_prefix(prefix: bytes, progressive: bool = False) -> bytes:
    """A small real JPEG with `prefix` inserted right after its start-of-image marker."""
    base = drawn_jpeg(progressive=progressive)
    return base[:2] + prefix + base[2:]


def jpeg_with_segments(count: int, marker: int = 0xFE, payload: bytes = b"") -> bytes:
    """`count` extra segments (COM by default, 4 bytes each when empty) before the image data."""
    return jpeg_with_prefix(jpeg_segment(marker, payload) * count)


def jpeg_with_fill_bytes(count: int) -> bytes:
    """`count` 0xFF fill bytes before the first marker after SOI (the standard allows any run)."""
    return jpeg_with_prefix(b"\xff" * count)


def jpeg_with_restart_markers(count: int) -> bytes:
    """`count` stray RSTn markers (two bytes, no length) before the image data."""
    return jpeg_with_prefix(b"\xff\xd0" * count)


def jpeg_with_quantization_tables(count: int) -> bytes:
    """`count` DQT segments of one 8-bit table each: Pillow unpacks every table in Python."""
    return jpeg_with_segments(count, 0xDB, b"\x00" + bytes(range(1, 65)))


def exif_payload(entries: int = 0, padding: int = 0) -> bytes:
    """An APP1 Exif payload: a little-endian TIFF header and one IFD of `entries` SHORT entries.

    Every entry has its own (private) tag, so Pillow keeps and parses each one.
    """
    entry_list = b"".join(struct.pack("<HHII", 0x8000 + index, 3, 1, 1) for index in range(entries))
    ifd = struct.pack("<H", entries) + entry_list + b"\x00" * 4
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * padding


def photoshop_payload(blocks: int) -> bytes:
    """An APP13 payload of `blocks` empty Photoshop resource blocks (12 bytes each)."""
    return b"Photoshop 3.0\x00" + (b"8BIM\x04\x04\x00\x00" + struct.pack(">I", 0)) * blocks


def jpeg_with_exif_bytes(total: int) -> bytes:
    """Exif APP1 segments holding `total` bytes in all (the first a real TIFF header)."""
    first = exif_payload()
    payloads = [first + b"\x00" * (min(total, 60_000) - len(first))]
    total -= len(payloads[0])
    while total > 0:
        payloads.append(b"Exif\x00\x00" + b"\x00" * (min(total, 60_000) - 6))
        total -= len(payloads[-1])
    return jpeg_with_prefix(b"".join(jpeg_segment(0xE1, payload) for payload in payloads))


def jpeg_with_photoshop_blocks(count: int) -> bytes:
    """APP13 Photoshop segments holding `count` resource blocks in all, 5,000 a segment."""
    counts = [5_000] * (count // 5_000) + ([count % 5_000] if count % 5_000 else [])
    return jpeg_with_prefix(b"".join(jpeg_segment(0xED, photoshop_payload(part)) for part in counts))


def jpeg_with_scans(count: int) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has `count` scans in all."""
    base = drawn_jpeg(progressive=True)
    last_scan = base.rindex(b"\xff\xda")
    scans = base.count(b"\xff\xda")  # a drawn 8 x 6 JPEG holds no other 0xFFDA bytes
    repeated = base[last_scan:-2] * (count - scans + 1)
    return base[:last_scan] + repeated + base[-2:]


def png_chunk(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_chunks(count: int, kind: bytes = b"IDAT", before_image_data: bool = False) -> bytes:
    """A small real PNG with `count` extra empty chunks of `kind` (12 bytes each).

    Empty IDATs go right after the real one (the image data may be split anywhere); other kinds
    go before the image data with `before_image_data`, else after it.
    """
    base = drawn_png()
    idat = base.index(b"IDAT") - 4
    idat_end = idat + 12 + struct.unpack(">I", base[idat : idat + 4])[0]
    extra = png_chunk(kind) * count
    if before_image_data:
        return base[:idat] + extra + base[idat:]
    return base[:idat_end] + extra + base[idat_end:]


def png_with_compressed_metadata(inflated_sizes: list[int], kind: bytes = b"zTXt") -> bytes:
    """Compressed zTXt, iTXt or iCCP chunks before the image data, one per size once inflated.

    Each text chunk has its own keyword (Pillow keeps one text per keyword, so every one of them
    stays in memory); a run of one byte compresses about a thousandfold.
    """
    heads = {b"zTXt": b"Comment%d\x00\x00", b"iTXt": b"Comment%d\x00\x01\x00en\x00\x00", b"iCCP": b"icc%d\x00\x00"}
    chunks = b"".join(
        png_chunk(kind, heads[kind] % index + zlib.compress(b"x" * size, 9))
        for index, size in enumerate(inflated_sizes)
    )
    base = drawn_png()
    idat = base.index(b"IDAT") - 4
    return base[:idat] + chunks + base[idat:]


def png_with_inflated_metadata(total: int, kind: bytes = b"zTXt") -> bytes:
    """Compressed chunks of `kind` that inflate to `total` bytes in all (1,000,000 a chunk)."""
    sizes = [1_000_000] * (total // 1_000_000) + ([total % 1_000_000] if total % 1_000_000 else [])
    return png_with_compressed_metadata(sizes, kind)


def gif_frame(width: int = 1, height: int = 1) -> bytes:
    """One frame: a graphic control extension, an image descriptor and two pixels of LZW data."""
    control = b"\x21\xf9\x04\x00\x0a\x00\x00\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return control + descriptor + b"\x02\x02\x44\x01\x00"


def gif_with_frames(count: int, width: int = 1, height: int = 1) -> bytes:
    """A GIF89a animation of `count` tiny frames (about 23 bytes each)."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return screen + gif_frame(width, height) * count + b"\x3b"


def gif_with_comment_blocks(count: int) -> bytes:
    """A one-frame GIF whose comment before the frame is `count` sub-blocks of one byte each."""
    comment = b"\x21\xfe" + b"\x01x" * count + b"\x00"
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return screen + comment + gif_frame() + b"\x3b"


def drawn_webp(width: int = 8, height: int = 6) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


def webp_with_chunks(count: int, kind: bytes = b"ZZZZ") -> bytes:
    """A small real (simple-format) WebP with `count` empty unknown chunks after its image."""
    base = drawn_webp()
    body = base[12:] + (kind + b"\x00\x00\x00\x00") * count
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_with_frames(count: int) -> bytes:
    """An animated WebP whose one-pixel frame is repeated until it has `count` frames."""
    frames = [Image.new("RGBA", (1, 1), color) for color in ((255, 0, 0, 255), (0, 0, 255, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    base = buffer.getvalue()
    last_frame = base.rindex(b"ANMF")
    body = base[12:last_frame] + base[last_frame:] * (count - 1)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body
