"""A WebP's RIFF chunks and animation frames, counted against budgets.

libwebp (C) parses WebP for Pillow, so chunks cost little to open; frames are what decoding an
animation pays for, one full canvas each.
"""

from __future__ import annotations

import struct

from imagehost.resolvers.structure_budget import ANIMATION_FRAMES, FileView, Tally

# A WebP holds its image (or one ANMF chunk per frame) and a few metadata chunks (ICC, Exif, XMP).
OTHER_CHUNKS = 1_000


def scan_webp(view: FileView) -> None:
    """Raise OverBudget at the first budget the file's structure exceeds."""
    chunks = Tally(OTHER_CHUNKS, "chunks besides its frames")
    frames = Tally(ANIMATION_FRAMES, "frames")
    riff_size = struct.unpack("<I", view.read(4, 4))[0]
    end = min(view.size, 8 + riff_size)
    pos = 12  # after "RIFF", the size and "WEBP"
    while pos + 8 <= end and len(header := view.read(pos, 8)) == 8:
        kind, length = struct.unpack("<4sI", header)
        (frames if kind == b"ANMF" else chunks).add()
        pos += 8 + length + (length & 1)  # chunks are padded to an even length
