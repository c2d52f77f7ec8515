"""Image bytes as files in one folder, written atomically under names the store chooses."""

from __future__ import annotations

import io
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
PARTIAL_PREFIX = "upload-"
PARTIAL_SUFFIX = ".part"


class SpoolFile(io.BufferedRandom):
    """An upload being received, in `directory`: an unnamed file (O_TMPFILE) where the system
    has them, so a crash leaves nothing behind, else a named one removed on close.
    `link_as` gives it its final name without copying a byte; it can do so more than once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.temp_name: str | None = None
        try:
            handle = os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o644)
        except (AttributeError, OSError):  # not Linux, or a file system without O_TMPFILE
            handle, self.temp_name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
        os.fchmod(handle, 0o644)  # whatever the umask: a web server running as another user reads the images
        super().__init__(io.FileIO(handle, "r+b"))

    def link_as(self, final: Path) -> None:
        """Give the bytes written so far the name `final`; FileExistsError if it is taken."""
        self.flush()
        if self.temp_name is not None:
            os.link(self.temp_name, final)
            return
        # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd is how an O_TMPFILE file gets a name;
        # os.link uses linkat only when given a directory fd.
        folder = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.link(f"/proc/self/fd/{self.fileno()}", final.name, dst_dir_fd=folder)
        finally:
            os.close(folder)

    def close(self) -> None:
        super().close()
        if self.temp_name is not None:
            try:
                os.unlink(self.temp_name)
            except FileNotFoundError:
                pass


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

    def spool(self) -> BinaryIO:
        """A temporary file in `work_dir`, gone when closed; `put` of it is a hard link, not a copy."""
        return SpoolFile(self.work_dir)

    def put(self, key: str, source: BinaryIO) -> None:
        final = self._path(key)
        if isinstance(source, SpoolFile) and source.directory == self.work_dir:
            try:
                source.link_as(final)
                return
            except FileExistsError:
                raise BlobExists(key) from None
            except OSError:
                source.seek(0)  # no /proc to link an unnamed file from: copy it instead
        handle, temp_name = tempfile.mkstemp(dir=self.work_dir, prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
        try:
            with os.fdopen(handle, "wb") as temp:
                if isinstance(source, io.BytesIO):  # held in memory: write it without a copy
                    with source.getbuffer() as held, held[source.tell():] as rest:
                        temp.write(rest)
                else:
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
