"""Fill the catalog fast, through the real storage layer's schema, with real image files.

`open_image_store` opens (and migrates) the catalog exactly as a worker does. The rows are then
written with the INSERT that `SqliteCatalog.add` runs, but many per transaction (`executemany`),
so the row-count triggers and indexes do their real work; each row gets its own file name,
hard-linked to a real PNG (one source copy per 20,000 links: ext4 allows ~65,000 per inode).
100,000 images take a few seconds rather than the minutes of one transaction each.

With accounts (a catalog whose images have an `owner_id`), the rows belong to the admin, the
account the bench's API token is of, with `stored_bytes` set as an upload's are: `images` lists
the viewer's own, so these are what the bench's list requests page through. Filled before the
first admin exists (the abuse scenario's `serve`), they have no owner and the admin adopts them
at first start. A baseline's catalog (`migrate=False`) is filled as its own schema has it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from imagehost.storage import EXTENSIONS, ImageRecord, open_image_store
from imagehost.storage.factory import catalog_path
from imagehost.storage.images import new_image_id
from imagehost.storage.sqlite_catalog import SqliteCatalog, encode_cursor

LINKS_PER_SOURCE = 20_000
BATCH = 5_000
COLUMNS = ("id", "filename", "content_type", "size", "width", "height", "created_at")
OWNED = ("owner_id", "stored_bytes")
ADMIN_USERNAME = "admin"


@dataclass
class Filler:
    images_dir: Path
    work_dir: Path
    png: bytes
    migrate: bool = True
    """Open (create, migrate) the catalog as our worker does; False: another checkout's catalog,
    already made by its server, left at its own schema."""

    def __post_init__(self) -> None:
        if self.migrate:
            store = open_image_store(self.images_dir)  # creates or migrates the schema, as a worker does
            catalog = store.catalog
            assert isinstance(catalog, SqliteCatalog)
            self.catalog_path = catalog.path
            store.close()
        else:
            self.catalog_path = catalog_path(self.images_dir)
            if not self.catalog_path.exists():
                raise FileNotFoundError(f"no catalog at {self.catalog_path} (is its server started?)")
        self.owned = set(OWNED) <= {str(row[1]) for row in self._rows("PRAGMA table_info(images)")}
        with Image.open(self._write_source(0)) as image:
            self.width, self.height = image.size
        self._links = 0

    def _write_source(self, number: int) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / f"fill-source-{number}.png"
        path.write_bytes(self.png)
        return path

    def add(self, count: int, prefix: str) -> list[str]:
        """Add `count` images named `<prefix>-<n>.png`; their ids, oldest first."""
        ids: list[str] = []
        created = datetime.now(UTC).replace(microsecond=0).isoformat()
        owner = self.owner_id()
        columns = COLUMNS + (OWNED if self.owned else ())
        insert = f"INSERT INTO images ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        connection = sqlite3.connect(self.catalog_path, isolation_level=None, timeout=30)
        try:
            connection.execute("PRAGMA busy_timeout = 30000")
            connection.execute("PRAGMA synchronous = NORMAL")
            for start in range(0, count, BATCH):
                rows = []
                for n in range(start, min(start + BATCH, count)):
                    record = ImageRecord(id=new_image_id(), filename=f"{prefix}-{n}.png",
                                         content_type="image/png", size=len(self.png), width=self.width,
                                         height=self.height, created_at=datetime.now(UTC))
                    source = self.work_dir / f"fill-source-{self._links // LINKS_PER_SOURCE}.png"
                    if self._links % LINKS_PER_SOURCE == 0 and not source.exists():
                        self._write_source(self._links // LINKS_PER_SOURCE)
                    os.link(source, self.images_dir / record.key)  # bytes first, as ImageStore does
                    self._links += 1
                    rows.append((record.id, record.filename, record.content_type, record.size,
                                 record.width, record.height, created)
                                + ((owner, record.size) if self.owned else ()))
                    ids.append(record.id)
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(insert, rows)
                connection.execute("COMMIT")
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()
        return ids

    def _rows(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(self.catalog_path, timeout=30)) as connection:
            return list(connection.execute(sql, parameters))

    def owner_id(self) -> str | None:
        """The admin's id, once the catalog has accounts and the admin exists; else None."""
        if not self.owned:
            return None
        found = self._rows("SELECT id FROM users WHERE username = ?", (ADMIN_USERNAME,))
        return str(found[0][0]) if found else None

    def total(self) -> int:
        return int(str(self._rows("SELECT total FROM image_count WHERE one = 1")[0][0]))

    def cursor_at(self, fraction: float) -> str:
        """The `after` cursor of the row `fraction` of the way down the newest-first list."""
        offset = int(self.total() * fraction)
        seq = self._rows("SELECT seq FROM images ORDER BY seq DESC LIMIT 1 OFFSET ?", (offset,))[0][0]
        cursor: str = encode_cursor(int(str(seq)))
        return cursor

    def keys_named(self, prefix: str, limit: int) -> list[str]:
        """File names (blob keys) of up to `limit` images whose file name starts with `prefix`."""
        rows = self._rows("SELECT id, content_type FROM images WHERE filename LIKE ? ORDER BY seq LIMIT ?",
                          (prefix + "%", limit))
        return [f"{image_id}.{EXTENSIONS[str(content_type)]}" for image_id, content_type in rows]
