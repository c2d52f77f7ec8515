"""The two interfaces every storage backend implements.

They are synchronous on purpose: the backends do blocking I/O (files, SQLite, later S3 and
PostgreSQL clients), and `ImageStore` runs them in worker threads so the event loop never waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from imagehost.storage.records import ImageRecord, Page


class BlobStore(Protocol):
    """Image bytes by key. The store owns keys: a client's file name is never one."""

    def spool(self) -> BinaryIO:
        """A temporary file to receive an upload into, deleted when closed.

        Backends place it where storing it is cheapest (for files: beside the images, so `put`
        is a hard link instead of a copy).
        """

    def put(self, key: str, source: BinaryIO) -> None:
        """Copy `source` (from its current position) under `key`, all or nothing; never overwrite."""

    def delete(self, key: str) -> bool:
        """Remove the bytes; False when there were none."""

    def local_path(self, key: str) -> Path | None:
        """Where the bytes lie on this machine, for backends that have one (to serve them directly)."""

    def keys(self) -> list[str]:
        """Every stored key: used only to sweep bytes that lost their catalog entry in a crash."""

    def age_seconds(self, key: str) -> float:
        """Seconds since the bytes were written."""

    def sweep_partial(self, older_than_seconds: float) -> int:
        """Remove partial writes a crashed process left behind; return how many."""

    def check(self) -> None:
        """Raise StorageError unless bytes can be written, read and removed right now."""


class Catalog(Protocol):
    """Records of stored images, paged newest first with opaque, stable cursors."""

    def add(self, record: ImageRecord) -> None: ...

    def get(self, image_id: str) -> ImageRecord | None: ...

    def remove_many(self, image_ids: Sequence[str]) -> list[ImageRecord | None]:
        """Remove the records in one transaction; each removed record, or None where there was none."""

    def page(self, first: int, after: str | None) -> Page: ...

    def count(self) -> int: ...

    def ids(self) -> set[str]: ...

    def check(self) -> None:
        """Raise StorageError unless the catalog can be read and written right now."""

    def close(self) -> None: ...
