"""Image bytes as files in one folder, written atomically under names the store chooses.

Every upload passes through the work folder, and leaves a record of its intent there until its
catalog row is in: `put` links the bytes in twice, as `pending-<key>` in the work folder and
under their final name, and `PendingBlob.commit` removes the first. So after a crash the
only bytes that can be proved uncommitted are those with such a marker, and a sweep removes
nothing else. A marker's file is locked (flock) by the process writing it for as long as that
upload is in flight; a lock the sweep can take therefore belongs to no live upload.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from imagehost.storage.audit import WorkFolderReport
from imagehost.storage.errors import BlobExists, StorageError, StorageFull
from imagehost.storage.free_space import FreeSpaceFloor
from imagehost.storage.keys import KEY_PATTERN  # nothing but a key the store makes is ever a path

COPY_CHUNK = 1024 * 1024
PARTIAL_PREFIX = "upload-"
PARTIAL_SUFFIX = ".part"
PENDING_PREFIX = "pending-"
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def _no_space(error: OSError, what: str) -> StorageFull:
    return StorageFull(f"no space left to store {what}: {error.strerror}")


def _locked_temp_file(directory: Path, named: bool) -> tuple[int, str | None]:
    """A new file in `directory`, mode 0644 and locked: unnamed (O_TMPFILE) unless `named`
    or the system has none, else named; the name is returned with it."""
    if not named:
        try:
            handle = os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o644)
        except (AttributeError, OSError):  # not Linux, or a file system without O_TMPFILE
            pass
        else:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # unnamed: nobody else can hold it
            os.fchmod(handle, 0o644)  # whatever the umask: a web server running as another user reads the images
            return handle, None
    while True:
        handle, name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a sweep took it in the instant between creating and locking
            os.close(handle)
            continue
        os.fchmod(handle, 0o644)
        return handle, name


def _link(handle: int, temp_name: str | None, dir_fd: int, name: str) -> None:
    """Give the file open as `handle` the name `name` in the folder `dir_fd`; FileExistsError if taken."""
    if temp_name is not None:
        os.link(temp_name, name, dst_dir_fd=dir_fd)
    else:
        # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd is how an O_TMPFILE file gets a name;
        # os.link uses linkat only when given a directory fd.
        os.link(f"/proc/self/fd/{handle}", name, dst_dir_fd=dir_fd)


class SpoolFile(io.BufferedRandom):
    """An upload being received, in `directory`: an unnamed file (O_TMPFILE) where the system
    has them, so a crash leaves nothing behind, else a named one removed on close. It is locked
    while open (see the module's docstring). `put` gives it its names without copying a byte.

    When the disk fills while it is written, it keeps no byte and notes `full` instead of
    raising: the multipart parser goes on reading the request, and the upload is refused as
    STORAGE_FULL when it would be stored.
    """

    def __init__(self, directory: Path, named: bool = False) -> None:
        self.directory = directory
        handle, self.temp_name = _locked_temp_file(directory, named)
        self._file = _NotingFullFile(handle, "r+b")
        super().__init__(self._file)

    @property
    def full(self) -> bool:
        return self._file.full

    def fileno(self) -> int:
        # Writers that find a descriptor write to it directly (Pillow's encoders do), and a full
        # disk would reach them as a raw OSError: without one they use `write`, which notes it.
        raise io.UnsupportedOperation("a spool is written through write(), which notes a full disk")

    @property
    def handle(self) -> int:
        """The file's descriptor, for the store's own links and truncation."""
        return self.raw.fileno()

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        written = super().write(data)
        super().flush()  # nothing stays buffered for long (a full disk is noted by the file below)
        return written

    def close(self) -> None:
        super().close()  # a full disk never raises here either: the file below notes it
        if self.temp_name is not None:
            try:
                os.unlink(self.temp_name)
            except FileNotFoundError:
                pass


class _NotingFullFile(io.FileIO):
    """A spool's file: once a write meets a full disk it keeps no byte and notes `full`, and
    every later write (a buffer being flushed, seeking, closing) is dropped, never raised."""

    full = False

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        size = memoryview(data).nbytes
        if self.full:
            return size
        try:
            return super().write(data)
        except OSError as error:
            if error.errno not in NO_SPACE:
                raise
        self.full = True
        try:
            os.ftruncate(self.fileno(), 0)  # give the space back at once
        except OSError:
            pass
        return size


class NoRoomSpool(io.BytesIO):
    """What `spool` hands out below the free-space floor: it keeps nothing and is `full`."""

    full = True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return len(data)


@dataclass
class PendingBlob:
    """Bytes under their final name whose catalog row is not committed yet.

    The marker (a second link in the work folder) says so until `commit` or `discard`.
    """

    store: FileBlobStore
    key: str
    handle: int | None
    """The store's own copy of the bytes, closed (and so unlocked) when the upload ends; None
    when the bytes were the caller's spool, which stays the caller's to close."""

    def commit(self) -> None:
        """The row is in: forget the marker. One left behind by a failure here is swept later."""
        try:
            os.unlink(PENDING_PREFIX + self.key, dir_fd=self.store.work_fd)
        except OSError:
            pass
        self._release()

    def discard(self) -> None:
        """The row will never be in: remove the bytes, then the marker."""
        try:
            try:
                os.unlink(self.key, dir_fd=self.store.root_fd)
            except FileNotFoundError:
                pass
            # Only once the bytes are gone: a marker left with them lets the sweep finish the job.
            os.unlink(PENDING_PREFIX + self.key, dir_fd=self.store.work_fd)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise StorageError(f"could not remove the bytes of an unrecorded upload: {error.strerror}") from error
        finally:
            self._release()

    def _release(self) -> None:
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


class FileBlobStore:
    """Files in `root`; partial writes and intent markers live in `work_dir` (same file system)."""

    def __init__(self, root: Path, work_dir: Path, min_free_bytes: int = 0) -> None:
        self.root = root
        self.work_dir = work_dir
        root.mkdir(parents=True, exist_ok=True)
        work_dir.mkdir(parents=True, exist_ok=True)
        self.floor = FreeSpaceFloor(root, min_free_bytes)
        # Both folders held open: every upload links and unlinks names in them, relative to these.
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self.work_fd = os.open(work_dir, os.O_RDONLY | os.O_DIRECTORY)
        self._named_spools = not _can_name_unnamed_files(work_dir, self.work_fd)

    def close(self) -> None:
        for handle in (self.root_fd, self.work_fd):
            if handle >= 0:
                os.close(handle)
        self.root_fd = self.work_fd = -1

    def _check_key(self, key: str) -> None:
        if not KEY_PATTERN.match(key):
            raise StorageError(f"{key!r} is not a blob key")

    def _path(self, key: str) -> Path:
        self._check_key(key)
        return self.root / key

    def spool(self) -> BinaryIO:
        """A temporary file in `work_dir`, gone when closed; `put` of it is a hard link, not a copy.

        Below the free-space floor, or when no file can be made, one that keeps nothing (`full`).
        """
        try:
            self.floor.check()
            return SpoolFile(self.work_dir, named=self._named_spools)
        except (StorageFull, OSError):
            return NoRoomSpool()

    def ensure_room(self, source: BinaryIO | None = None) -> None:
        """Raise StorageFull below the floor, or when `source` is a spool that ran out of room."""
        if isinstance(source, (SpoolFile, NoRoomSpool)) and source.full:
            raise StorageFull("the disk filled up while the upload was received")
        self.floor.check()

    def put(self, key: str, source: BinaryIO) -> PendingBlob:
        """Store `source` (from its current position) under `key`, all or nothing; never overwrite.

        The bytes are readable under `key` at once; the caller commits or discards them.
        """
        self._check_key(key)
        marker = PENDING_PREFIX + key
        owned = not (isinstance(source, SpoolFile) and source.directory == self.work_dir)
        if owned:
            handle, temp_name = self._copy(key, source)
        else:
            assert isinstance(source, SpoolFile)
            if source.full:
                raise StorageFull(f"no space left to store {key}")
            source.flush()
            handle, temp_name = source.handle, source.temp_name
        try:
            _link(handle, temp_name, self.work_fd, marker)
            try:
                # link() never replaces a name: a key is never overwritten.
                os.link(marker, key, src_dir_fd=self.work_fd, dst_dir_fd=self.root_fd)
            except BaseException:
                os.unlink(marker, dir_fd=self.work_fd)
                raise
        except BaseException as error:
            if owned:
                _close_temp(handle, temp_name)
            if isinstance(error, FileExistsError):
                raise BlobExists(key) from None
            if isinstance(error, OSError):
                if error.errno in NO_SPACE:
                    raise _no_space(error, key) from error
                raise StorageError(f"could not write {key}: {error.strerror}") from error
            raise
        if owned and temp_name is not None:
            _close_temp(-1, temp_name)  # the marker holds the bytes now, and the lock is on them
        return PendingBlob(self, key, handle if owned else None)

    def _copy(self, key: str, source: BinaryIO) -> tuple[int, str | None]:
        """The bytes of `source` in a new locked file of the work folder (plain writes, no buffering)."""
        try:
            handle, temp_name = _locked_temp_file(self.work_dir, self._named_spools)
        except OSError as error:
            if error.errno in NO_SPACE:
                raise _no_space(error, key) from error
            raise StorageError(f"could not write {key}: {error.strerror}") from error
        try:
            if isinstance(source, io.BytesIO):  # held in memory: write it without a copy
                with source.getbuffer() as held, held[source.tell():] as rest:
                    _write_all(handle, rest)
            else:
                while chunk := source.read(COPY_CHUNK):
                    _write_all(handle, memoryview(chunk))
        except BaseException as error:
            _close_temp(handle, temp_name)
            if isinstance(error, OSError) and error.errno in NO_SPACE:
                raise _no_space(error, key) from error
            raise
        return handle, temp_name

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

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except OSError as error:
            raise StorageError(f"could not read {key}: {error.strerror}") from error

    def modified_at(self, key: str) -> datetime:
        try:
            return datetime.fromtimestamp(self._path(key).stat().st_mtime, UTC)
        except OSError as error:
            raise StorageError(f"could not read {key}: {error.strerror}") from error

    def keys(self) -> list[str]:
        with os.scandir(self.root) as entries:
            return [entry.name for entry in entries if KEY_PATTERN.match(entry.name)]

    def pending_keys(self) -> set[str]:
        """Keys with an intent marker: uploads in flight, or a crash's leftovers the sweep decides on."""
        with os.scandir(self.work_dir) as entries:
            return {
                entry.name.removeprefix(PENDING_PREFIX)
                for entry in entries
                if entry.name.startswith(PENDING_PREFIX)
            }

    def sweep_work_folder(self, is_recorded: Callable[[str], bool], *, remove: bool = True) -> WorkFolderReport:
        """Look at (and with `remove`, clear) what no live process holds in the work folder.

        A marker with no row, whose final name is the very same file, is an upload that never
        committed: its bytes go. Any other file there is a partial write or a stale marker, and
        removing it removes no stored image (a stored image keeps its final name).
        """
        report = WorkFolderReport()
        with os.scandir(self.work_dir) as entries:
            names = [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
        for name in names:
            path = self.work_dir / name
            try:
                handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except FileNotFoundError:  # finished meanwhile
                continue
            try:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    report.in_flight += 1
                    continue
                if name.startswith(PENDING_PREFIX) and KEY_PATTERN.match(key := name.removeprefix(PENDING_PREFIX)):
                    self._settle_marker(key, handle, is_recorded(key), report, remove)
                else:
                    report.partial_files += 1
                if remove:
                    _unlink_quietly(path)
            finally:
                os.close(handle)
        return report

    def _settle_marker(self, key: str, handle: int, recorded: bool, report: WorkFolderReport, remove: bool) -> None:
        if recorded:
            report.committed_markers += 1
            return
        final = self.root / key
        marked = os.fstat(handle)
        try:
            named = final.stat()
        except FileNotFoundError:  # the crash came between the two links: only the marker is left
            report.partial_files += 1
            return
        if (named.st_dev, named.st_ino) != (marked.st_dev, marked.st_ino):
            report.mismatched.append(key)
            return
        report.uncommitted.append(key)
        if remove:
            _unlink_quietly(final)

    def check(self) -> None:
        """Raise StorageError unless bytes can be written, read and removed right now."""
        self.floor.check()
        try:
            # Unnamed where the system allows it, so nothing (not even a sweep) can trip over it.
            with tempfile.TemporaryFile(dir=self.work_dir, prefix="health-") as probe:
                probe.write(b"ok")
                probe.flush()
                probe.seek(0)
                if probe.read() != b"ok":
                    raise StorageError("the image folder returned other bytes than were written")
        except OSError as error:
            if error.errno in NO_SPACE:
                raise _no_space(error, "anything") from error
            raise StorageError(f"the image folder is not writable: {error.strerror}") from error


def _write_all(handle: int, data: memoryview) -> None:
    written = 0
    while written < len(data):
        written += os.write(handle, data[written:])


def _close_temp(handle: int, temp_name: str | None) -> None:
    if handle >= 0:
        os.close(handle)
    if temp_name is not None:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _can_name_unnamed_files(directory: Path, dir_fd: int) -> bool:
    """Whether an O_TMPFILE file made here can be given a name (needs O_TMPFILE and /proc)."""
    try:
        handle, temp_name = _locked_temp_file(directory, named=False)
    except OSError:
        return False
    name = f"{PARTIAL_PREFIX}probe-{os.getpid()}-{handle}{PARTIAL_SUFFIX}"
    try:
        if temp_name is not None:
            return False
        try:
            _link(handle, None, dir_fd, name)
        except OSError:
            return False
        os.unlink(name, dir_fd=dir_fd)
        return True
    finally:
        _close_temp(handle, temp_name)
