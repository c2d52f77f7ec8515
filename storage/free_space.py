"""`FreeSpaceFloor`: refuse to store bytes while the file system has less free space than a floor.

Below the floor an upload is refused before any of it is stored, so the disk never fills to
the point where the catalog cannot commit (or the logs cannot be written). statvfs costs a
system call; it is asked at most once per `max_age_seconds` per process, and the answer
follows the disk by itself, so storing resumes as soon as space returns.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from imagehost.storage.errors import StorageFull

MIB = 1024 * 1024


class FreeSpaceFloor:
    def __init__(self, path: Path, floor_bytes: int, max_age_seconds: float = 1.0) -> None:
        self.path = path
        self.floor_bytes = floor_bytes
        """0 turns the floor off."""
        self.max_age_seconds = max_age_seconds
        self._free = 0
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use, at most `max_age_seconds` old."""
        now = time.monotonic()
        if now - self._read_at >= self.max_age_seconds:
            with self._lock:
                if now - self._read_at >= self.max_age_seconds:
                    stats = os.statvfs(self.path)
                    self._free = stats.f_bavail * stats.f_frsize
                    self._read_at = now
        return self._free

    def check(self) -> None:
        """Raise StorageFull while free space is below the floor."""
        if self.floor_bytes <= 0:
            return
        free = self.free_bytes()
        if free < self.floor_bytes:
            raise StorageFull(
                f"only {_mib(free)} free where images are stored, below the {_mib(self.floor_bytes)} floor",
                free_bytes=free,
                floor_bytes=self.floor_bytes,
            )


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"
