"""Image bytes as files in one folder, written atomically under names the store chooses."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from imagehost.storage.errors import BlobExists, StorageError

# Keys are ids from `secrets.token_urlsafe(16)` plus an extension; nothing else is ever a path.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}\.(?:jpg|png|gif|webp)$")
COPY_CHUNK = 1024 * 1024


class FileBlobStore:
    """Files in `root`; partial writes live in `work_dir` (same file system) until complete."""

    def __init__(self, root: Path, work_dir: Path) -> None:
        self.root = root
        self.work_dir = work_dir
        root.mkdir(parents=True, exist_ok=True)
        work_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not KEY_PATTERN.match(key):
            raise StorageError(f"{key!r} is not a blob key")
        return self.root / key

    def put(self, key: str, source: BinaryIO) -> None:
        final = self._path(key)
        handle, temp_name = tempfile.mkstemp(dir=self.work_dir, prefix="upload-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as temp:
                shutil.copyfileobj(source, temp, COPY_CHUNK)
            # mkstemp makes 0600 files; a web server running as another user must read them.
            os.chmod(temp_name, 0o644)
            # link() refuses to replace an existing name, so a key is never overwritten,
            # and the final name appears only once every byte is on disk.
            os.link(temp_name, final)
        except FileExistsError:
            raise BlobExists(key) from None
        except OSError as error:
            raise StorageError(f"could not write {key}: {error.strerror}") from error
        finally:
            try:
                os.unlink(temp_name)
            except FileNotFoundError:
                pass

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise StorageError(f"could not delete {key}: {error.strerror}") from error
        return True

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def keys(self) -> list[str]:
        with os.scandir(self.root) as entries:
            return [entry.name for entry in entries if KEY_PATTERN.match(entry.name)]

    def age_seconds(self, key: str) -> float:
        try:
            return time.time() - self._path(key).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def sweep_partial(self, older_than_seconds: float) -> int:
        """Remove partial writes left by a crashed process; returns how many."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        with os.scandir(self.work_dir) as entries:
            for entry in entries:
                try:
                    if entry.is_file() and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    def check(self) -> None:
        try:
            with tempfile.NamedTemporaryFile(dir=self.work_dir, prefix="health-") as probe:
                probe.write(b"ok")
                probe.flush()
                probe.seek(0)
                if probe.read() != b"ok":
                    raise StorageError("the image folder returned other bytes than were written")
        except OSError as error:
            raise StorageError(f"the image folder is not writable: {error.strerror}") from error
