"""A GIF's blocks and frames, counted against budgets.

Pillow's GifImagePlugin reads a GIF one sub-block at a time in Python, keeping each comment
sub-block in a list: opening a file reads every block before the first frame, and counting or
decoding frames reads all of them.
"""

from __future__ import annotations

from imagehost.resolvers.structure_budget import ANIMATION_FRAMES, FileView, Tally, allowance

# Encoders split image data into 255-byte sub-blocks and add four small blocks per frame (its
# control extension and image descriptor, each with a sub-block): the floor covers a full
# budget of one-pixel frames.
BLOCKS_FLOOR = 50_000
BYTES_PER_BLOCK = 128

EXTENSION, IMAGE = 0x21, 0x2C


def scan_gif(view: FileView) -> None:
    """Raise OverBudget at the first budget the file's structure exceeds."""
    blocks = Tally(allowance(BLOCKS_FLOOR, view.size, BYTES_PER_BLOCK), "blocks")
    frames = Tally(ANIMATION_FRAMES, "frames")
    screen = view.read(0, 13)
    if len(screen) < 13:
        return
    pos = 13 + _color_table_bytes(screen[10])
    while pos >= 0:
        introducer = view.read(pos, 1)
        if introducer == bytes((EXTENSION,)):
            blocks.add()
            pos = _skip_sub_blocks(view, pos + 2, blocks)  # after the introducer and the label
        elif introducer == bytes((IMAGE,)):
            frames.add()
            blocks.add()
            descriptor = view.read(pos + 1, 9)
            if len(descriptor) < 9:
                return
            # The local colour table, then the LZW minimum code size, then the data sub-blocks.
            pos += 10 + _color_table_bytes(descriptor[8]) + 1
            pos = _skip_sub_blocks(view, pos, blocks)
        else:
            return  # the trailer, the end of the file, or bytes Pillow will judge


def _color_table_bytes(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(view: FileView, pos: int, blocks: Tally) -> int:
    """Where the sub-blocks at `pos` end (-1 if the file ends first), counting each one."""
    # The hot loop of this module: it runs on the window's bytes and checks the budget in bulk.
    room = blocks.allowed - blocks.count
    count = 0
    data, start = view.window(pos)
    while True:
        index = pos - start
        if index >= len(data):
            data, start = view.window(pos)
            index = 0
            if not data:
                blocks.add(count)
                return -1
        length = data[index]
        if length == 0:
            blocks.add(count)
            return pos + 1
        pos += length + 1
        count += 1
        if count > room:
            blocks.add(count)
