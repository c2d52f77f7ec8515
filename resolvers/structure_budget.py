"""Budgets on how many pieces an image file is made of, counted before Pillow parses it.

Pillow walks JPEG segments, PNG chunks and GIF blocks in Python, keeping a small object for many
of them: a 10 MB file of 2.6 million tiny pieces cost it 11 s of CPU and 300 MB. The scanners in
the `*_structure` modules count the pieces with cheap reads and stop at the first budget that
is exceeded, so what they cost is bounded by the budget, not by the file. They only count:
whether the bytes are a valid image stays Pillow's call, so a scanner that cannot follow a file
(cut short, a bad length) stops and leaves the verdict to Pillow.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from imagehost.resolvers.limits import human_size

# What a scanner holds of the file at a time: uploads are validated concurrently, and each may
# be as large as the byte limit.
WINDOW_BYTES = 256 * 1024
# Long real animations have a few thousand frames; decoding pays for each one.
ANIMATION_FRAMES = 10_000


class OverBudget(Exception):
    """A file's structure costs more to parse than any real image's; `reason` says which part."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def allowance(floor: int, size: int, bytes_each: int) -> int:
    """A budget that grows with the file: `floor` pieces, or one per `bytes_each` bytes if more.

    Real encoders write pieces of some size (8-64 KiB PNG chunks, 255-byte GIF sub-blocks), so
    a large real file has more of them; a small file still gets the floor.
    """
    return max(floor, size // bytes_each)


class Tally:
    """Counts one kind of piece and stops the scan when the count passes its allowance."""

    __slots__ = ("allowed", "count", "what")

    def __init__(self, allowed: int, what: str, in_bytes: bool = False) -> None:
        self.allowed = allowed
        # "over 1,000 marker segments", "over 8 MiB of text": the phrase a refusal shows.
        self.what = f"{human_size(allowed)} {what}" if in_bytes else f"{allowed:,} {what}"
        self.count = 0

    def add(self, count: int = 1) -> None:
        self.count += count
        if self.count > self.allowed:
            raise OverBudget(f"over {self.what}")


class FileView:
    """Reads at any offset of a file through one window of WINDOW_BYTES.

    The scanners jump from header to header; reading the whole upload into memory for that would
    cost as much memory as the byte limit, per concurrent upload.
    """

    def __init__(self, source: BinaryIO, size: int, window_bytes: int = WINDOW_BYTES) -> None:
        self._source = source
        self.size = size
        self._window_bytes = window_bytes
        self._start = 0
        self._data = b""

    def window(self, pos: int) -> tuple[bytes, int]:
        """A buffer that holds the byte at `pos` (empty at the end of the file), and its offset."""
        if not self._start <= pos < self._start + len(self._data):
            self._load(pos)
        return self._data, self._start

    def read(self, pos: int, count: int) -> bytes:
        """Up to `count` bytes at `pos`: fewer only at the end of the file."""
        if count > self._window_bytes:
            self._source.seek(pos)
            return self._source.read(count)
        offset = pos - self._start
        if offset < 0 or offset + count > len(self._data):
            self._load(pos)
            offset = 0
        return self._data[offset : offset + count]

    def _load(self, pos: int) -> None:
        self._source.seek(pos)
        self._data = self._source.read(self._window_bytes)
        self._start = pos

    def pieces(self, pos: int, count: int) -> Iterator[bytes]:
        """The `count` bytes at `pos`, one window-sized piece at a time (for a long body)."""
        end = min(pos + count, self.size)
        while pos < end:
            piece = self.read(pos, min(self._window_bytes, end - pos))
            if not piece:
                return
            yield piece
            pos += len(piece)

    def search(self, pattern: re.Pattern[bytes], pos: int, overlap: int) -> int:
        """Where `pattern` next matches at or after `pos`, or -1.

        A match may be up to `overlap` + 1 bytes long: consecutive windows overlap by that much,
        so a match across a window boundary is still found (`overlap` must be smaller than the
        window). The search itself runs in C.
        """
        while pos < self.size:
            data, start = self.window(pos)
            found = pattern.search(data, pos - start)
            if found is not None:
                return start + found.start()
            if start + len(data) >= self.size or len(data) < self._window_bytes:
                return -1  # the end of the file (or of what could be read of it)
            pos = start + len(data) - overlap
            self._load(pos)
        return -1
