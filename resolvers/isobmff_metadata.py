"""Finding the EXIF, XMP and IPTC items of a HEIC or AVIF file, to blank them where they lie.

HEIF and AVIF are ISOBMFF files: metadata are items of the top-level `meta` box, listed in
`iinf` (item type `Exif`, `mime` for XMP, `iptc`) with their bytes located by `iloc`. Removing
an item would move every byte after it and mean rewriting each `iloc` offset; instead each one
is blanked in place: its type is renamed to `BLANKED` (readers skip item types they do not
know, as ISOBMFF requires) and its bytes become zeros. Nothing else changes, so the coded image
data and the ICC profile (a `colr` property) stay byte for byte, and so does every offset.

Only the boxes that say where things are (`iinf`, `iloc`) are read, each capped, so a hostile
file costs little; one that cannot be followed is `Malformed`.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from imagehost.resolvers.structure_budget import FileView

METADATA_TYPES = frozenset({b"Exif", b"mime", b"iptc"})
"""`mime` items are XMP (`application/rdf+xml`) or other descriptions: never image data."""
BLANKED = b"gone"
"""The type a blanked item gets: no reader knows it, so none reports an empty EXIF/XMP."""

# Real files have a handful of top-level boxes and meta children; iinf/iloc of a 48-tile grid
# photo are a few KiB. These caps only stop files built to make the walk expensive.
TOP_LEVEL_BOXES = 64
META_CHILDREN = 256
TABLE_BYTES = 1024 * 1024
ITEMS = 20_000
EXTENTS = 100_000  # iloc fields may be 0 bytes wide: count extents, not only table bytes


class Malformed(Exception):
    """The container's boxes cannot be followed (a length past its parent, a table too big)."""


class Patch(NamedTuple):
    """Bytes [start, end) of the file to replace: by `replacement`, or by zeros when None."""

    start: int
    end: int
    replacement: bytes | None


class Box(NamedTuple):
    kind: bytes
    body: int
    end: int


def metadata_patches(view: FileView) -> list[Patch]:
    """The patches that blank every metadata item, in file order; none overlap."""
    meta = _top_level_meta(view)
    if meta is None:
        return []
    children = {box.kind: box for box in reversed(_children(view, meta.body + 4, meta.end))}
    if b"iinf" not in children or b"iloc" not in children:
        return []
    items = _metadata_items(view, children[b"iinf"])
    if not items:
        return []
    idat = children.get(b"idat")
    patches = [Patch(pos, pos + 4, BLANKED) for pos in items.values()]
    patches += [Patch(start, end, None) for start, end in _extents(view, children[b"iloc"], set(items), idat)]
    patches.sort(key=lambda patch: (patch.start, patch.end))
    for before, after in zip(patches, patches[1:]):
        if after.start < before.end:
            raise Malformed("metadata items overlap")
    if patches[-1].end > view.size:
        raise Malformed("a metadata item runs past the end of the file")
    return patches


def _top_level_meta(view: FileView) -> Box | None:
    pos = 0
    for _ in range(TOP_LEVEL_BOXES):
        if pos >= view.size:
            return None
        box = _box(view, pos, view.size)
        if box.kind == b"meta":
            return box
        pos = box.end
    raise Malformed(f"over {TOP_LEVEL_BOXES} top-level boxes before the meta box")


def _children(view: FileView, pos: int, end: int) -> list[Box]:
    boxes: list[Box] = []
    while pos < end:
        if len(boxes) == META_CHILDREN:
            raise Malformed(f"over {META_CHILDREN} boxes in the meta box")
        boxes.append(_box(view, pos, end))
        pos = boxes[-1].end
    return boxes


def _box(view: FileView, pos: int, end: int) -> Box:
    header = view.read(pos, 16)
    if len(header) < 8 or pos + 8 > end:
        raise Malformed("a box header is cut short")
    size, kind = struct.unpack(">I4s", header[:8])
    body = pos + 8
    if size == 1:
        if len(header) < 16:
            raise Malformed("a box header is cut short")
        size, body = struct.unpack(">Q", header[8:16])[0], pos + 16
    elif size == 0:  # the box runs to the end of its parent
        size = end - pos
    if size < body - pos or pos + size > end:
        raise Malformed(f"the {kind!r} box's length is wrong")
    return Box(kind, body, pos + size)


def _table(view: FileView, box: Box) -> bytes:
    if box.end - box.body > TABLE_BYTES:
        raise Malformed(f"the {box.kind!r} table is larger than any real image's")
    return view.read(box.body, box.end - box.body)


class _Reader:
    """Big-endian fields from a table, raising Malformed where the table ends."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint(self, width: int) -> int:
        end = self.pos + width
        if end > len(self.data):
            raise Malformed("a table ends inside a field")
        value = int.from_bytes(self.data[self.pos : end], "big")
        self.pos = end
        return value


def _metadata_items(view: FileView, iinf: Box) -> dict[int, int]:
    """item_ID -> the file offset of the item's type, for the items METADATA_TYPES names."""
    data = _table(view, iinf)
    fields = _Reader(data)
    version = fields.uint(4) >> 24
    count = fields.uint(2 if version == 0 else 4)
    if count > ITEMS:
        raise Malformed(f"over {ITEMS:,} items")
    items: dict[int, int] = {}
    pos = fields.pos
    for _ in range(count):
        entry = _box(view, iinf.body + pos, iinf.end)
        pos = entry.end - iinf.body
        if entry.kind != b"infe":
            continue
        infe = _Reader(data[entry.body - iinf.body : pos])
        infe_version = infe.uint(4) >> 24
        if infe_version < 2:  # versions 0 and 1 have no item type
            continue
        item_id = infe.uint(2 if infe_version == 2 else 4)
        infe.uint(2)  # item_protection_index
        type_at = infe.pos
        if infe.data[type_at : type_at + 4] in METADATA_TYPES:
            items[item_id] = entry.body + type_at
    return items


def _extents(view: FileView, iloc: Box, wanted: set[int], idat: Box | None) -> list[tuple[int, int]]:
    """(start, end) in the file of every extent of the `wanted` items."""
    fields = _Reader(_table(view, iloc))
    version = fields.uint(4) >> 24
    sizes = fields.uint(2)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    count = fields.uint(2 if version < 2 else 4)
    if count > ITEMS:
        raise Malformed(f"over {ITEMS:,} items")
    found: list[tuple[int, int]] = []
    extents = 0
    for _ in range(count):
        item_id = fields.uint(2 if version < 2 else 4)
        method = fields.uint(2) & 15 if version in (1, 2) else 0
        reference = fields.uint(2)
        base = fields.uint(base_size)
        extent_count = fields.uint(2)
        extents += extent_count
        if extents > EXTENTS:
            raise Malformed(f"over {EXTENTS:,} item extents")
        for _ in range(extent_count):
            fields.uint(index_size)
            offset, length = fields.uint(offset_size), fields.uint(length_size)
            if item_id in wanted and reference == 0:  # reference != 0: the bytes are in another file
                found.append(_located(view, method, base + offset, length, idat))
    return found


def _located(view: FileView, method: int, offset: int, length: int, idat: Box | None) -> tuple[int, int]:
    if method == 0:
        start, limit = offset, view.size
    elif method == 1 and idat is not None:
        start, limit = idat.body + offset, idat.end
    else:  # 2: built from other items' bytes; no writer puts EXIF or XMP that way
        raise Malformed("a metadata item's bytes cannot be located")
    end = limit if length == 0 else start + length  # 0: up to the end of the data
    if not start <= end <= limit:
        raise Malformed("a metadata item runs past the end of its data")
    return start, end
