"""A PNG's chunks and compressed metadata, counted against budgets.

Pillow's PngImagePlugin calls a Python method for each chunk before the image data (keeping
unknown ones in a list), and `verify()` reads and checks every chunk after it, one loop turn
each. It also inflates each zTXt, compressed iTXt and iCCP chunk before the image data (up to
MAX_TEXT_CHUNK each, 64 of them in memory at once): a 60 KB file can hold 64 MB of text.
"""

from __future__ import annotations

import struct
import zlib

from PIL import PngImagePlugin

from imagehost.resolvers.structure_budget import WINDOW_BYTES, FileView, Tally, allowance

# libpng writes 8 KiB image-data chunks, Pillow 64 KiB; an animated PNG adds two small chunks per
# frame, so the floor lets through several thousand frames.
CHUNKS_FLOOR = 10_000
BYTES_PER_CHUNK = 1024
# Real files have a handful of ancillary chunks (colour, text, time) before the image data.
CHUNKS_BEFORE_IMAGE_DATA = 1_000
# Text and colour profiles of real files are kilobytes once inflated (XMP: tens of KB).
INFLATED_METADATA_BYTES = 8 * 1024 * 1024

IMAGE_DATA = frozenset({b"IDAT", b"fdAT"})
COMPRESSED_METADATA = frozenset({b"zTXt", b"iTXt", b"iCCP"})
# A keyword is at most 79 bytes; an iTXt's language tag and translated keyword follow it.
METADATA_HEADER_BYTES = 4096


def scan_png(view: FileView) -> None:
    """Raise OverBudget at the first budget the file's structure exceeds."""
    chunks = Tally(allowance(CHUNKS_FLOOR, view.size, BYTES_PER_CHUNK), "chunks")
    before_image_data = Tally(CHUNKS_BEFORE_IMAGE_DATA, "chunks before its image data")
    inflated = Tally(INFLATED_METADATA_BYTES, "of text and colour profiles once inflated", in_bytes=True)
    seen_image_data = False
    pos = 8  # after the signature
    while len(header := view.read(pos, 8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        chunks.add()
        if kind in IMAGE_DATA:
            seen_image_data = True
        elif not seen_image_data:
            before_image_data.add()
        if kind in COMPRESSED_METADATA:
            _count_inflated(view, kind, pos + 8, length, inflated)
        if kind == b"IEND":
            return
        pos += 12 + length  # length, type, data, CRC


def _count_inflated(view: FileView, kind: bytes, body: int, length: int, inflated: Tally) -> None:
    start = _compressed_start(kind, view.read(body, min(length, METADATA_HEADER_BYTES)))
    if start is None:
        return  # not compressed (an iTXt may not be)
    if start < 0:
        # A header too odd to follow: charge the most Pillow would inflate from it.
        inflated.add(PngImagePlugin.MAX_TEXT_CHUNK)
        return
    inflater = zlib.decompressobj()
    try:
        for piece in view.pieces(body + start, length - start):
            while piece:
                room = inflated.allowed - inflated.count + 1
                inflated.add(len(inflater.decompress(piece, min(room, WINDOW_BYTES))))
                if inflater.eof:
                    return
                piece = inflater.unconsumed_tail
    except zlib.error:
        return  # Pillow keeps no text from a broken stream either


def _compressed_start(kind: bytes, head: bytes) -> int | None:
    """Where the zlib stream starts in a chunk's data (-1: cannot tell), None if uncompressed."""
    keyword_end = head.find(b"\x00")
    if keyword_end < 0:
        return -1
    if kind != b"iTXt":
        return keyword_end + 2  # the keyword's NUL, then the compression method
    if head[keyword_end + 1 : keyword_end + 2] != b"\x01":
        return None
    language_end = head.find(b"\x00", keyword_end + 3)
    translated_end = head.find(b"\x00", language_end + 1) if language_end >= 0 else -1
    return translated_end + 1 if translated_end >= 0 else -1
