"""The catalog in one SQLite file, shared safely by several worker processes (WAL mode)."""

from __future__ import annotations

import base64
import fcntl
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from imagehost.storage.connection_pool import ConnectionPool
from imagehost.storage.errors import (
    CatalogError,
    CatalogMissing,
    CatalogReplaced,
    InvalidCursor,
    QuotaExceeded,
    StorageError,
    StorageFull,
)
from imagehost.storage.records import ImageRecord, Page

SCHEMA_VERSION = 4

# `seq` orders the catalog: it only grows (AUTOINCREMENT never reuses a value), so a cursor
# naming a seq stays valid and stable whatever is added or deleted around it.
# `image_count` is kept by triggers so totalCount costs one row read, not a table scan.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS images (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_count (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    total INTEGER NOT NULL
);
INSERT OR IGNORE INTO image_count (one, total) VALUES (1, (SELECT count(*) FROM images));
CREATE TRIGGER IF NOT EXISTS images_count_insert AFTER INSERT ON images
BEGIN UPDATE image_count SET total = total + 1 WHERE one = 1; END;
CREATE TRIGGER IF NOT EXISTS images_count_delete AFTER DELETE ON images
BEGIN UPDATE image_count SET total = total - 1 WHERE one = 1; END;
"""
# Version 2: the catalog's identity, a random id made with it. A copy lies beside the file, so
# a catalog that was deleted (and silently recreated empty) or swapped for another is noticed.
SCHEMA_V2 = "CREATE TABLE IF NOT EXISTS catalog_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
# Version 3: the renditions stored beside the display bytes (storage.keys names their keys).
# NULL in rows from before: no thumbnail (its URL falls back to the display bytes), no original.
SCHEMA_V3_COLUMNS = {"thumbnail_type": "TEXT", "original_type": "TEXT"}
# Version 4: accounts (see sqlite_accounts). Images gain their owner (NULL: anonymous, or stored
# before accounts: the first admin adopts those), the bytes of all their keys (for quotas) and
# an anonymous upload's delete-token hash. Each account's image count and bytes are kept by
# triggers, like image_count, so quotas and `User.imageCount` cost one row read.
SCHEMA_V4_COLUMNS = {"owner_id": "TEXT", "stored_bytes": "INTEGER NOT NULL DEFAULT 0", "delete_token_hash": "TEXT"}
SCHEMA_V4 = """
UPDATE images SET stored_bytes = size WHERE stored_bytes = 0;
CREATE INDEX IF NOT EXISTS images_by_owner ON images (owner_id, seq);
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL,
    quota_bytes   INTEGER,
    created_at    TEXT NOT NULL,
    image_count   INTEGER NOT NULL DEFAULT 0,
    stored_bytes  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    secret_hash  TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    label        TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_by_user ON api_tokens (user_id);
CREATE TABLE IF NOT EXISTS attempts (
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_subject ON attempts (kind, subject, at);
CREATE INDEX IF NOT EXISTS attempts_by_time ON attempts (at);
CREATE TRIGGER IF NOT EXISTS images_owner_insert AFTER INSERT ON images WHEN NEW.owner_id IS NOT NULL
BEGIN UPDATE users SET image_count = image_count + 1, stored_bytes = stored_bytes + NEW.stored_bytes
      WHERE id = NEW.owner_id; END;
CREATE TRIGGER IF NOT EXISTS images_owner_delete AFTER DELETE ON images WHEN OLD.owner_id IS NOT NULL
BEGIN UPDATE users SET image_count = image_count - 1, stored_bytes = stored_bytes - OLD.stored_bytes
      WHERE id = OLD.owner_id; END;
CREATE TRIGGER IF NOT EXISTS images_owner_update AFTER UPDATE OF owner_id ON images
BEGIN
    UPDATE users SET image_count = image_count - 1, stored_bytes = stored_bytes - OLD.stored_bytes
        WHERE id = OLD.owner_id;
    UPDATE users SET image_count = image_count + 1, stored_bytes = stored_bytes + NEW.stored_bytes
        WHERE id = NEW.owner_id;
END
"""

COLUMNS = (
    "seq, id, filename, content_type, size, width, height, created_at, thumbnail_type, original_type,"
    " owner_id, stored_bytes, delete_token_hash"
)
CURSOR_PREFIX = "seq:"
MAX_CONNECTIONS = 8
"""Connections a process opens at most (see ConnectionPool); a call beyond that waits."""


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(cursor)
        seq = int(text.removeprefix(CURSOR_PREFIX))
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor(cursor) from None
    if seq < 1:
        raise InvalidCursor(cursor)
    return seq


def _to_record(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(
        id=row["id"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size"],
        width=row["width"],
        height=row["height"],
        created_at=datetime.fromisoformat(row["created_at"]),
        thumbnail_type=row["thumbnail_type"],
        original_type=row["original_type"],
        owner_id=row["owner_id"],
        stored_bytes=row["stored_bytes"],
        delete_token_hash=row["delete_token_hash"],
    )


def _failure(error: sqlite3.Error, doing: str) -> StorageError:
    """SQLite's error as the storage layer's: a full disk is StorageFull, anything else CatalogError."""
    if getattr(error, "sqlite_errorname", "") == "SQLITE_FULL":
        return StorageFull(f"{doing}: the disk is full")
    return CatalogError(f"{doing}: {error}")


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """A write transaction: committed when the block ends, rolled back if it raises."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SqliteCatalog:
    """Connections from a small pool, checked out per call; every statement runs in autocommit
    or an explicit transaction.

    Opening checks that the file is the catalog these images were stored with: a missing
    catalog beside images (`existing_images` counts them) and a catalog whose identity differs
    from the copy beside it refuse to open, unless `repair` (then a new catalog is made, or
    the one found is adopted). Later, every write first checks that the path still names the
    file opened and that it is writable: a catalog deleted, replaced or made read-only while
    the server runs refuses writes instead of taking them into a file nobody will read again.
    """

    def __init__(
        self,
        path: Path,
        busy_timeout_ms: int = 10_000,
        *,
        existing_images: Callable[[], int] | None = None,
        repair: bool = False,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.path = path
        self.identity_path = path.with_suffix(".id")
        self.busy_timeout_ms = busy_timeout_ms
        self.identity = ""
        self._pool = ConnectionPool(self._connect, max_connections, timeout=busy_timeout_ms / 1000)
        self._file_id: tuple[int, int] | None = None
        self._journal_ids: dict[Path, tuple[int, int]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_mutex = threading.Lock()
        self._write_lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._open(existing_images, repair)
        except BaseException:
            self.close()
            raise

    # -- connections -----------------------------------------------------------------------

    def _connect(self, create: bool = False) -> sqlite3.Connection:
        if self._file_id is not None:
            self.ensure_writable()  # a new connection must not open whatever now lies at the path
        uri = f"{self.path.absolute().as_uri()}?mode={'rwc' if create else 'rw'}"
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout_ms / 1000
        )
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    def open_connections(self) -> int:
        """Idle connections held (for tests and diagnostics)."""
        return self._pool.idle()

    @contextmanager
    def _writing(self, verify: bool = True) -> Iterator[None]:
        """Queue writers: first the threads of this process, then the processes, on a file lock.

        SQLite lets one writer in at a time and makes the others retry in its busy handler,
        which sleeps with a growing back-off (up to 100 ms a try): with many concurrent writers
        that turned into p99s of most of a second. A blocking flock wakes the next writer the
        moment the lock is released. Readers never take it (WAL lets them read meanwhile).
        """
        with self._write_mutex:
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_EX)
            try:
                if verify:
                    self.ensure_writable()
                yield
            finally:
                fcntl.flock(self._write_lock_fd, fcntl.LOCK_UN)

    # -- opening ---------------------------------------------------------------------------

    def _open(self, existing_images: Callable[[], int] | None, repair: bool) -> None:
        # Under the write lock: workers starting together on a new catalog would otherwise
        # race to create it and to switch the journal mode, which fails at once ("database is
        # locked") rather than waiting. WAL lets readers in every worker go on while one writes.
        with self._writing(verify=False):
            existed = self.path.exists()
            if not existed:
                count = existing_images() if existing_images is not None else 0
                if count and not repair:
                    raise CatalogMissing(self.path, count)
                # A deleted catalog's journal would be replayed into the new file.
                for stale in self._journal_paths():
                    stale.unlink(missing_ok=True)
            try:
                connection = self._connect(create=True)
                try:
                    connection.execute("PRAGMA journal_mode = WAL")
                    found = _stored_identity(connection)
                    expected = self._read_identity_copy()
                    if existed and expected is not None and found != expected and not repair:
                        raise CatalogReplaced(self.path, found, expected)
                    if self._create_schema(connection):
                        # Into the main file at once: an identity only in the -wal would be
                        # lost with a journal that is set aside (see _set_aside_journal).
                        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    self.identity = _stored_identity(connection) or ""
                except BaseException:
                    connection.close()
                    raise
            except sqlite3.Error as error:
                raise CatalogError(f"cannot open the catalog at {self.path}: {error}") from error
            if expected != self.identity:
                self._write_identity_copy()
            self._file_id = _file_id(self.path)
            self._journal_ids = {journal: _file_id(journal) for journal in self._journal_paths() if journal.exists()}
        # Into the pool: while a connection stays open the -wal and -shm files stay too (the
        # last one to close removes them), so a full disk cannot stop the next one opening.
        self._pool.add(connection)

    def _create_schema(self, connection: sqlite3.Connection) -> bool:
        """Create or upgrade the tables; whether anything changed."""
        with _transaction(connection):
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version < 1:
                for statement in _statements(SCHEMA_V1):
                    connection.execute(statement)
            if version < 2:
                connection.execute(SCHEMA_V2)
                connection.execute(
                    "INSERT OR IGNORE INTO catalog_meta (name, value) VALUES ('identity', ?)", (secrets.token_hex(16),)
                )
            if version < 3:
                present = {row["name"] for row in connection.execute("PRAGMA table_info(images)")}
                for column, sql_type in SCHEMA_V3_COLUMNS.items():
                    if column not in present:  # ALTER TABLE has no IF NOT EXISTS
                        connection.execute(f"ALTER TABLE images ADD COLUMN {column} {sql_type}")
            if version < 4:
                present = {row["name"] for row in connection.execute("PRAGMA table_info(images)")}
                for column, sql_type in SCHEMA_V4_COLUMNS.items():
                    if column not in present:
                        connection.execute(f"ALTER TABLE images ADD COLUMN {column} {sql_type}")
                for statement in _statements(SCHEMA_V4):
                    connection.execute(statement)
            if version < SCHEMA_VERSION:
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return bool(version < SCHEMA_VERSION)

    def _read_identity_copy(self) -> str | None:
        try:
            return self.identity_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _write_identity_copy(self) -> None:
        temp = self.identity_path.with_name(f"{self.identity_path.name}.{os.getpid()}.tmp")
        temp.write_text(self.identity + "\n")
        os.replace(temp, self.identity_path)

    def _journal_paths(self) -> tuple[Path, Path]:
        return self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")

    def _set_aside_journal(self) -> None:
        """Rename this catalog's -wal and -shm once its file has gone from the path.

        SQLite leaves a moved database's journal in place (it will not checkpoint into a file
        that is no longer there), and the next file to take the path, a restored backup or
        another catalog, would have the old file's pages replayed into it. Only the journal
        files this process opened are moved (same inode): a new catalog's are left alone.
        """
        for journal, opened in self._journal_ids.items():
            try:
                if _file_id(journal) == opened:
                    os.replace(journal, journal.with_name(journal.name + ".stale"))
            except OSError:
                pass
        self._journal_ids = {}

    # -- health ----------------------------------------------------------------------------

    def ensure_writable(self) -> None:
        """Raise CatalogError unless the path still names the file opened, and it is writable.

        A stat and an access call: cheap enough for every write. (As root, chmod does not stop
        writes but an immutable flag or a read-only mount does, and access() sees both.)
        """
        problem = self._file_problem()
        if problem:
            raise CatalogError(f"the catalog {problem}: uploads and deletes are refused")

    def _file_problem(self) -> str | None:
        try:
            found = _file_id(self.path)
        except FileNotFoundError:
            self._set_aside_journal()
            return "file was deleted while the server ran"
        except OSError as error:
            return f"file cannot be reached ({error.strerror})"
        if found != self._file_id:
            self._set_aside_journal()
            return "file was replaced while the server ran"
        if not os.access(self.path, os.W_OK):
            return "file is not writable (read-only or immutable)"
        return None

    def check(self) -> None:
        """Raise StorageError unless the catalog can be read and written right now."""
        try:
            # BEGIN IMMEDIATE takes the write lock: proof that a write could go through now.
            with self._writing(), self._pool.lease() as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    found = _stored_identity(connection)
                finally:
                    connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise _failure(error, "the catalog is not writable") from error
        if found != self.identity:  # same file, other contents: copied over in place
            self._set_aside_journal()
            raise CatalogError("the catalog file was overwritten with another catalog while the server ran")

    # -- records ---------------------------------------------------------------------------

    def add(self, record: ImageRecord) -> None:
        """Insert the row; an owner's quota is checked in the same transaction, so uploads racing
        on several workers cannot together pass it."""
        row = (
            record.id,
            record.filename,
            record.content_type,
            record.size,
            record.width,
            record.height,
            record.created_at.isoformat(),
            record.thumbnail_type,
            record.original_type,
            record.owner_id,
            record.stored_bytes,
            record.delete_token_hash,
        )
        try:
            with self._writing(), self._pool.lease() as connection, _transaction(connection):
                if record.owner_id is not None:
                    _check_quota(connection, record.owner_id, record.stored_bytes)
                connection.execute(
                    "INSERT INTO images (id, filename, content_type, size, width, height, created_at,"
                    " thumbnail_type, original_type, owner_id, stored_bytes, delete_token_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.Error as error:
            raise _failure(error, f"could not record image {record.id}") from error

    def get(self, image_id: str) -> ImageRecord | None:
        row = self._read_one(f"SELECT {COLUMNS} FROM images WHERE id = ?", (image_id,))
        return _to_record(row) if row else None

    def set_renditions(self, image_id: str, thumbnail_type: str | None, original_type: str | None) -> bool:
        try:
            with self._writing(), self._pool.lease() as connection:
                changed = connection.execute(
                    "UPDATE images SET thumbnail_type = ?, original_type = ? WHERE id = ?",
                    (thumbnail_type, original_type, image_id),
                ).rowcount
        except sqlite3.Error as error:
            raise _failure(error, f"could not update image {image_id}") from error
        return bool(changed)

    def remove_many(self, image_ids: Sequence[str]) -> list[ImageRecord | None]:
        try:
            with self._writing(), self._pool.lease() as connection, _transaction(connection):
                rows = [
                    connection.execute(f"DELETE FROM images WHERE id = ? RETURNING {COLUMNS}", (image_id,)).fetchone()
                    for image_id in image_ids
                ]
        except sqlite3.Error as error:
            raise _failure(error, f"could not delete images {', '.join(image_ids)}") from error
        return [_to_record(row) if row else None for row in rows]

    def page(self, first: int, after: str | None, owner_id: str | None = None) -> Page:
        before_seq = decode_cursor(after) if after is not None else None
        where = "" if owner_id is None else "owner_id = ?"
        parameters: list[object] = [] if owner_id is None else [owner_id]
        if before_seq is not None:
            where = f"{where} AND seq < ?" if where else "seq < ?"
            parameters.append(before_seq)
        # With an owner, (owner_id, seq) is an index: a page is a range scan whatever the total.
        sql = f"SELECT {COLUMNS} FROM images {'WHERE ' + where if where else ''} ORDER BY seq DESC LIMIT ?"
        try:
            with self._pool.lease() as connection:
                # One read transaction, so the page and the total come from the same snapshot.
                connection.execute("BEGIN")
                try:
                    rows = connection.execute(sql, (*parameters, first + 1)).fetchall()
                    if owner_id is None:
                        found = connection.execute("SELECT total FROM image_count WHERE one = 1").fetchone()
                    else:
                        found = connection.execute("SELECT image_count FROM users WHERE id = ?", (owner_id,)).fetchone()
                    total = int(found[0]) if found else 0
                finally:
                    connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise CatalogError(f"could not list images: {error}") from error
        shown = rows[:first]
        return Page(
            records=[_to_record(row) for row in shown],
            cursors=[encode_cursor(row["seq"]) for row in shown],
            has_next_page=len(rows) > first,
            total_count=total,
        )

    def owned_ids(self, owner_id: str) -> list[str]:
        """Ids of every image of one account (to delete them with it)."""
        try:
            with self._pool.lease() as connection:
                rows = connection.execute("SELECT id FROM images WHERE owner_id = ?", (owner_id,)).fetchall()
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error
        return [row[0] for row in rows]

    # -- for the other tables of this file (sqlite_accounts) -----------------------------------

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads, translated errors."""
        try:
            with self._pool.lease() as connection:
                yield connection
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error

    @contextmanager
    def writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A connection in a write transaction, queued like every write of this catalog."""
        try:
            with self._writing(), self._pool.lease() as connection, _transaction(connection):
                yield connection
        except sqlite3.Error as error:
            raise _failure(error, doing) from error

    def count(self) -> int:
        row = self._read_one("SELECT total FROM image_count WHERE one = 1", ())
        return int(row[0]) if row else 0

    def ids(self) -> set[str]:
        try:
            with self._pool.lease() as connection:
                rows = connection.execute("SELECT id FROM images").fetchall()
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error
        return {row[0] for row in rows}

    def keys(self) -> dict[str, tuple[str, ...]]:
        try:
            with self._pool.lease() as connection:
                rows = connection.execute(f"SELECT {COLUMNS} FROM images").fetchall()
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error
        return {row["id"]: _to_record(row).keys for row in rows}

    def close(self) -> None:
        self._pool.close()
        if self._file_id is not None:
            self._file_problem()  # a catalog that went away while open: its journal is set aside
        if self._write_lock_fd >= 0:
            os.close(self._write_lock_fd)
            self._write_lock_fd = -1

    def _read_one(self, sql: str, parameters: tuple[object, ...]) -> sqlite3.Row | None:
        try:
            with self._pool.lease() as connection:
                row: sqlite3.Row | None = connection.execute(sql, parameters).fetchone()
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error
        return row


def _check_quota(connection: sqlite3.Connection, owner_id: str, wanted: int) -> None:
    found = connection.execute("SELECT quota_bytes, stored_bytes FROM users WHERE id = ?", (owner_id,)).fetchone()
    if found is None:
        raise CatalogError(f"there is no account {owner_id} to own the image (it was removed)")
    quota, stored = found
    if quota is not None and stored + wanted > quota:
        raise QuotaExceeded(quota, stored, wanted)


def _statements(script: str) -> Iterator[str]:
    """The statements of a script one by one (executescript would commit the open transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        yield pending.strip()


def _file_id(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _stored_identity(connection: sqlite3.Connection) -> str | None:
    has_meta = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'catalog_meta'"
    ).fetchone()
    if not has_meta:
        return None
    row = connection.execute("SELECT value FROM catalog_meta WHERE name = 'identity'").fetchone()
    return str(row[0]) if row else None
