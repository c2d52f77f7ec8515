"""The catalog in one SQLite file, shared safely by several worker processes (WAL mode)."""

from __future__ import annotations

import base64
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from imagehost.storage.errors import CatalogError, InvalidCursor
from imagehost.storage.records import ImageRecord, Page

SCHEMA_VERSION = 1

# `seq` orders the catalog: it only grows (AUTOINCREMENT never reuses a value), so a cursor
# naming a seq stays valid and stable whatever is added or deleted around it.
# `image_count` is kept by triggers so totalCount costs one row read, not a table scan.
SCHEMA = """
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

COLUMNS = "seq, id, filename, content_type, size, width, height, created_at"
CURSOR_PREFIX = "seq:"


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
    )


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
    """One connection per thread; every statement runs in autocommit or an explicit transaction."""

    def __init__(self, path: Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_mutex = threading.Lock()
        self._write_lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        self._migrate()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Queue writers: first the threads of this process, then the processes, on a file lock.

        SQLite lets one writer in at a time and makes the others retry in its busy handler,
        which sleeps with a growing back-off (up to 100 ms a try): with many concurrent writers
        that turned into p99s of most of a second. A blocking flock wakes the next writer the
        moment the lock is released. Readers never take it (WAL lets them read meanwhile).
        """
        with self._write_mutex:
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._write_lock_fd, fcntl.LOCK_UN)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout_ms / 1000
            )
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            connection.execute("PRAGMA synchronous = NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _migrate(self) -> None:
        connection = self._connection()
        try:
            # Under the write lock: workers starting together on a new catalog would otherwise
            # race to switch the journal mode, which fails at once ("database is locked")
            # rather than waiting. WAL lets readers in every worker go on while one writes.
            with self._writing():
                connection.execute("PRAGMA journal_mode = WAL")
                self._create_schema(connection)
        except sqlite3.Error as error:
            raise CatalogError(f"cannot open the catalog at {self.path}: {error}") from error

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        with _transaction(connection):
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for statement in SCHEMA.split(";\n"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def add(self, record: ImageRecord) -> None:
        row = (
            record.id,
            record.filename,
            record.content_type,
            record.size,
            record.width,
            record.height,
            record.created_at.isoformat(),
        )
        try:
            with self._writing():
                self._connection().execute(
                    "INSERT INTO images (id, filename, content_type, size, width, height, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.Error as error:
            raise CatalogError(f"could not record image {record.id}: {error}") from error

    def get(self, image_id: str) -> ImageRecord | None:
        row = self._read_one(f"SELECT {COLUMNS} FROM images WHERE id = ?", (image_id,))
        return _to_record(row) if row else None

    def remove_many(self, image_ids: Sequence[str]) -> list[ImageRecord | None]:
        connection = self._connection()
        try:
            with self._writing(), _transaction(connection):
                rows = [
                    connection.execute(f"DELETE FROM images WHERE id = ? RETURNING {COLUMNS}", (image_id,)).fetchone()
                    for image_id in image_ids
                ]
        except sqlite3.Error as error:
            raise CatalogError(f"could not delete images {', '.join(image_ids)}: {error}") from error
        return [_to_record(row) if row else None for row in rows]

    def page(self, first: int, after: str | None) -> Page:
        before_seq = decode_cursor(after) if after is not None else None
        connection = self._connection()
        try:
            # One read transaction, so the page and the total come from the same snapshot.
            connection.execute("BEGIN")
            try:
                if before_seq is None:
                    rows = connection.execute(
                        f"SELECT {COLUMNS} FROM images ORDER BY seq DESC LIMIT ?", (first + 1,)
                    ).fetchall()
                else:
                    rows = connection.execute(
                        f"SELECT {COLUMNS} FROM images WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                        (before_seq, first + 1),
                    ).fetchall()
                total = connection.execute("SELECT total FROM image_count WHERE one = 1").fetchone()[0]
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

    def count(self) -> int:
        row = self._read_one("SELECT total FROM image_count WHERE one = 1", ())
        return int(row[0]) if row else 0

    def ids(self) -> set[str]:
        try:
            return {row[0] for row in self._connection().execute("SELECT id FROM images")}
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error

    def check(self) -> None:
        connection = self._connection()
        try:
            # BEGIN IMMEDIATE takes the write lock: proof that a write could go through now.
            with self._writing():
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("SELECT total FROM image_count WHERE one = 1").fetchone()
                connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise CatalogError(f"the catalog is not writable: {error}") from error

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
        if self._write_lock_fd >= 0:
            os.close(self._write_lock_fd)
            self._write_lock_fd = -1

    def _read_one(self, sql: str, parameters: tuple[object, ...]) -> sqlite3.Row | None:
        try:
            row: sqlite3.Row | None = self._connection().execute(sql, parameters).fetchone()
        except sqlite3.Error as error:
            raise CatalogError(f"could not read the catalog: {error}") from error
        return row
