"""The interfaces every storage backend implements.

They are synchronous on purpose: the backends do blocking I/O (files, SQLite, later S3 and
PostgreSQL clients), and `ImageStore` runs them in worker threads so the event loop never waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from imagehost.storage.account_records import ApiTokenRecord, Credentials, TokenHolder, UserRecord
from imagehost.storage.audit import WorkFolderReport
from imagehost.storage.records import ImageRecord, Page


class PendingPut(Protocol):
    """Bytes stored under their key whose catalog row is not committed yet.

    Until `commit` or `discard`, the store keeps a record of the intent, so a crash in between
    leaves bytes that a sweep can prove were never committed.
    """

    def commit(self) -> None:
        """The row is in: drop the intent."""

    def discard(self) -> None:
        """The row will never be: remove the bytes, then the intent."""


class BlobStore(Protocol):
    """Image bytes by key. The store owns keys: a client's file name is never one."""

    def spool(self) -> BinaryIO:
        """A temporary file to receive an upload into, deleted when closed.

        Backends place it where storing it is cheapest (for files: beside the images, so `put`
        is a hard link instead of a copy). It never raises for lack of space: it keeps nothing
        and `ensure_room(it)` raises StorageFull instead.
        """

    def ensure_room(self, source: BinaryIO | None = None) -> None:
        """Raise StorageFull when bytes cannot be stored now for lack of space (below the
        free-space floor, or `source` is a spool that ran out of room)."""

    def put(self, key: str, source: BinaryIO) -> PendingPut:
        """Copy `source` (from its current position) under `key`, all or nothing; never overwrite."""

    def delete(self, key: str) -> bool:
        """Remove the bytes; False when there were none."""

    def local_path(self, key: str) -> Path | None:
        """Where the bytes lie on this machine, for backends that have one (to serve them directly)."""

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, for reading (to rebuild a lost catalog row from them)."""

    def modified_at(self, key: str) -> datetime:
        """When the bytes were written."""

    def keys(self) -> list[str]:
        """Every stored key (for the sweep and `imagehost check`)."""

    def pending_keys(self) -> set[str]:
        """Keys whose upload has not committed or discarded its intent (in flight, or crashed)."""

    def sweep_work_folder(self, is_recorded: Callable[[str], bool], *, remove: bool = True) -> WorkFolderReport:
        """Clear what crashed uploads left behind (with `remove=False`, only report it).

        `is_recorded(key)` says whether a catalog row names the key; bytes are removed only
        for an intent that no live process holds and that no row names.
        """

    def check(self) -> None:
        """Raise StorageError unless bytes can be written, read and removed right now."""

    def close(self) -> None: ...


class Catalog(Protocol):
    """Records of stored images, paged newest first with opaque, stable cursors."""

    identity: str
    """A random id made with the catalog, to tell it from any other."""

    def add(self, record: ImageRecord) -> None: ...

    def get(self, image_id: str) -> ImageRecord | None: ...

    def set_renditions(self, image_id: str, thumbnail_type: str | None, original_type: str | None) -> bool:
        """Change which renditions a record names (repair); False when there is no such record."""

    def remove_many(self, image_ids: Sequence[str]) -> list[ImageRecord | None]:
        """Remove the records in one transaction; each removed record, or None where there was none."""

    def page(self, first: int, after: str | None, owner_id: str | None = None) -> Page:
        """Newest first; only `owner_id`'s images when given (total_count is then theirs)."""

    def owned_ids(self, owner_id: str) -> list[str]: ...

    def count(self) -> int: ...

    def ids(self) -> set[str]: ...

    def keys(self) -> dict[str, tuple[str, ...]]:
        """Every blob key of every record (ImageRecord.keys), by id."""

    def ensure_writable(self) -> None:
        """Raise CatalogError when a write would be refused now; cheap enough to ask per upload."""

    def check(self) -> None:
        """Raise StorageError unless the catalog can be read and written right now."""

    def close(self) -> None: ...


class Accounts(Protocol):
    """Accounts, sessions, API tokens and rate-limit counters, shared by every worker (and host).

    Secrets arrive hashed (SHA-256 for sessions and tokens, argon2id for passwords): a backend
    never sees one. Usernames arrive normalised (resolvers.accounts).
    """

    def create_user(
        self, username: str, password_hash: str, *, is_admin: bool, only_if_none: bool = False
    ) -> UserRecord | None:
        """Raise UsernameTaken; with `only_if_none`, None when any account exists already."""

    def user(self, user_id: str) -> UserRecord | None: ...

    def credentials(self, username: str) -> Credentials | None: ...

    def password_hash(self, user_id: str) -> str | None: ...

    def users(self) -> list[UserRecord]: ...

    def count_users(self) -> int: ...

    def set_password(self, user_id: str, password_hash: str) -> bool:
        """Also ends every session of the account."""

    def set_quota(self, user_id: str, quota_bytes: int | None) -> bool: ...

    def remove_user(self, user_id: str) -> bool: ...

    def create_session(self, user_id: str, secret_hash: str, now: float) -> None: ...

    def session_user(
        self, secret_hash: str, now: float, *, idle_seconds: float, lifetime_seconds: float, touch_after: float
    ) -> UserRecord | None: ...

    def end_session(self, secret_hash: str) -> bool: ...

    def create_token(self, user_id: str, label: str, secret_hash: str) -> ApiTokenRecord: ...

    def tokens(self, user_id: str) -> list[ApiTokenRecord]: ...

    def token_holder(self, secret_hash: str, *, touch_after: float) -> TokenHolder | None: ...

    def revoke_token(self, token_id: str, user_id: str | None) -> bool: ...

    def attempts_since(self, kind: str, subject: str, since: float) -> list[float]: ...

    def count_attempt(self, kind: str, subject: str, now: float, *, limit: int, window: float) -> int | None:
        """Record an attempt unless `limit` were made in the last `window` seconds (across
        every worker): its number, or None when over the limit."""

    def forget_attempt(self, number: int) -> None: ...

    def clear_attempts(self, kind: str, subject: str) -> None: ...
