"""A JPEG's segments, stray bytes, tables, metadata and scans, counted against budgets.

Before the first scan Pillow's JpegImagePlugin walks the file in Python: one loop turn per
segment and per stray or fill byte, one list per quantization table, every Photoshop resource
block; it joins and parses all Exif segments. After it, only libjpeg (C) reads the file, but
each scan of a progressive JPEG makes a full decode pass over the image's coefficients.
"""

from __future__ import annotations

import re

from imagehost.resolvers.structure_budget import FileView, Tally, allowance

# Real JPEGs have tens of segments: APPn metadata (an ICC profile or extended XMP split into
# 64 KiB pieces adds one segment per piece), 2-4 tables, a frame header, and 1 (baseline) to
# about 12 (progressive) scans with their Huffman tables.
SEGMENTS_FLOOR = 1_000
BYTES_PER_SEGMENT = 16 * 1024
# Encoders write segments back to back; the standard allows 0xFF fill bytes before a marker.
STRAY_BYTES = 4_096
# Tables 0-3 are all a decoder can use at once.
QUANTIZATION_TABLES = 64
# The Exif standard fits all of it into one 64 KiB segment; Pillow joins every Exif segment and
# parses the result entry by entry. Two segments' worth lets a duplicated one through.
EXIF_BYTES = 128 * 1024
# Photoshop writes tens of resource blocks (a clipping path is one block, however long).
PHOTOSHOP_BLOCKS = 10_000
# libjpeg's default progression has 10 scans, mozjpeg's optimised ones a few more.
SCANS = 256

SOS, EOI, DQT, APP1, APP13 = 0xDA, 0xD9, 0xDB, 0xE1, 0xED
STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xDA)})  # TEM, RST0-7, SOI, EOI: no length
SMALLEST_QUANTIZATION_TABLE = 65  # a table id byte and 64 one-byte values
FF = re.compile(rb"\xff")
# The end of entropy-coded data: 0xFF that is not a stuffed zero, a restart marker or fill.
NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def scan_jpeg(view: FileView) -> None:
    """Raise OverBudget at the first budget the file's structure exceeds."""
    segments = Tally(allowance(SEGMENTS_FLOOR, view.size, BYTES_PER_SEGMENT), "marker segments")
    stray = Tally(STRAY_BYTES, "stray bytes between the segments before its image data")
    tables = Tally(QUANTIZATION_TABLES, "quantization tables")
    exif = Tally(EXIF_BYTES, "of Exif data", in_bytes=True)
    photoshop = Tally(PHOTOSHOP_BLOCKS, "Photoshop resource blocks")
    scans = Tally(SCANS, "scans")
    pos = 2  # after SOI
    while True:
        if scans.count:
            pos = view.search(NEXT_MARKER, pos, overlap=1)
        else:
            pos = _next_marker_before_scans(view, pos, stray)
        code = view.read(pos + 1, 1) if pos >= 0 else b""
        if not code:
            return  # the end of the file: cut short or not, that is Pillow's to say
        marker = code[0]
        if marker == 0x00:  # an escaped 0xFF where a marker belongs: Pillow skips it
            stray.add(2)
            pos += 2
            continue
        segments.add()
        if marker in STANDALONE_MARKERS:
            if marker == EOI and scans.count:
                return
            pos += 2
            continue
        header = view.read(pos + 2, 2)
        length = int.from_bytes(header, "big")
        if len(header) < 2 or length < 2:
            return
        body, body_length = pos + 4, length - 2
        if not scans.count:
            _count_parsed_in_python(view, marker, body, body_length, tables, exif, photoshop)
        if marker == SOS:
            scans.add()
        pos += 2 + length


def _next_marker_before_scans(view: FileView, pos: int, stray: Tally) -> int:
    """Where the 0xFF of the next marker is (the last of a fill run), counting skipped bytes."""
    found = view.search(FF, pos, overlap=0)
    if found < 0:
        return -1
    stray.add(found - pos)
    while view.read(found + 1, 1) == b"\xff":
        stray.add()
        found += 1
    return found


def _count_parsed_in_python(
    view: FileView, marker: int, body: int, length: int, tables: Tally, exif: Tally, photoshop: Tally
) -> None:
    if marker == DQT:
        tables.add(-(-length // SMALLEST_QUANTIZATION_TABLE))
    elif marker == APP1 and view.read(body, 6) == b"Exif\x00\x00":
        exif.add(length)
    elif marker == APP13 and view.read(body, 14) == b"Photoshop 3.0\x00":
        # An upper bound on the blocks Pillow's loop visits: each starts with this signature.
        photoshop.add(view.read(body, length).count(b"8BIM"))
