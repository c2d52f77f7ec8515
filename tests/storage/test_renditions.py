"""Every key of an image (display bytes, thumbnail, HEIC original) is stored, found, swept and
deleted together: real files, a real SQLite file, failures injected through a subclass of the
real blob store, and a real crash (SIGKILL) before the row."""

from __future__ import annotations

import io
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from imagehost.storage import (
    CatalogError,
    ImageRecord,
    ImageStore,
    NewImage,
    Original,
    StorageError,
    StorageFull,
    Thumbnail,
    catalog_path,
    open_image_store,
)
from imagehost.storage.file_blobs import FileBlobStore, PendingBlob
from imagehost.storage.keys import KEY_PATTERN, is_display, is_thumbnail
from imagehost.storage.sqlite_accounts import SqliteAccounts
from imagehost.storage.sqlite_catalog import SCHEMA_VERSION, SqliteCatalog
from tests.imagedata import drawn_jpeg, drawn_webp

# Not a decodable HEIC: storage keeps bytes as they are, and never reads what it stores.
HEIC = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\x01" * 64


THUMBNAILS = {"image/jpeg": drawn_jpeg(8, 6), "image/webp": drawn_webp(8, 6)}
"""A thumbnail of each type: JPEG (opaque images, and this HEIC), WebP (transparent ones, and
every image stored before JPEG thumbnails)."""


def photo(with_original: bool = True, thumbnail_type: str = "image/jpeg") -> tuple[NewImage, bytes]:
    """A HEIC upload as the pipeline hands it over: display JPEG, JPEG thumbnail, the original."""
    display = drawn_jpeg(16, 12)
    image = NewImage(
        filename="IMG_0001.heic",
        content_type="image/jpeg",
        size=len(display),
        width=16,
        height=12,
        thumbnail=Thumbnail(THUMBNAILS[thumbnail_type], thumbnail_type),
        original=Original(io.BytesIO(HEIC), "image/heic") if with_original else None,
    )
    return image, display


def on_disk(images_dir: Path) -> list[str]:
    return sorted(path.name for path in images_dir.iterdir() if path.is_file())


def work_files(images_dir: Path) -> list[str]:
    return sorted(path.name for path in (images_dir / ".imagehost" / "tmp").iterdir())


class FailingBlobs(FileBlobStore):
    """The real file store, failing the write of keys ending in `fail_on` as a full disk would."""

    fail_on = ""

    def put(self, key: str, source: BinaryIO) -> PendingBlob:
        if self.fail_on and key.endswith(self.fail_on):
            raise StorageFull(f"no space left to store {key} (injected)")
        return super().put(key, source)


class FailingCatalog(SqliteCatalog):
    fail = False

    def add(self, record: ImageRecord) -> None:
        if self.fail:
            raise CatalogError("the row could not be committed (injected)")
        super().add(record)


def failing_store(images_dir: Path) -> tuple[ImageStore, FailingBlobs, FailingCatalog]:
    blobs = FailingBlobs(images_dir, images_dir / ".imagehost" / "tmp")
    catalog = FailingCatalog(catalog_path(images_dir))
    return ImageStore(blobs, catalog, SqliteAccounts(catalog)), blobs, catalog


@pytest.mark.parametrize(("thumbnail_type", "extension"), [("image/jpeg", "jpg"), ("image/webp", "webp")])
def test_every_key_is_stored_with_the_row_and_named_by_it(tmp_path: Path, thumbnail_type: str, extension: str) -> None:
    store = open_image_store(tmp_path / "images")
    image, display = photo(thumbnail_type=thumbnail_type)
    record = store.add_sync(image, io.BytesIO(display))
    assert record.keys == (f"{record.id}.jpg", f"{record.id}.thumb.{extension}", f"{record.id}.heic")
    assert (record.key, record.thumbnail_key, record.original_key) == record.keys
    assert all(KEY_PATTERN.match(key) for key in record.keys)
    assert store.catalog.get(record.id) == record
    assert record.thumbnail_type == thumbnail_type and record.original_type == "image/heic"
    assert record.size == len(display)  # the display bytes', not the original's
    assert on_disk(tmp_path / "images") == sorted(record.keys) and work_files(tmp_path / "images") == []
    read = {key: (tmp_path / "images" / key).read_bytes() for key in record.keys}
    assert read == {record.key: display, record.thumbnail_key: THUMBNAILS[thumbnail_type], record.original_key: HEIC}
    assert store.audit().clean
    store.close()


def test_an_image_stored_without_renditions_falls_back_to_its_display_key(tmp_path: Path) -> None:
    store = open_image_store(tmp_path / "images")
    display = drawn_jpeg()
    record = store.add_sync(NewImage("old.jpg", "image/jpeg", len(display), 8, 6), io.BytesIO(display))
    assert record.thumbnail_type is None and record.original_type is None
    assert record.keys == (record.key,) and record.thumbnail_key == record.key and record.original_key is None
    assert on_disk(tmp_path / "images") == [record.key]
    store.close()


@pytest.mark.parametrize("fail_at", ["thumbnail", "original", "row"])
def test_a_failure_at_any_key_or_the_row_leaves_no_file_and_no_row(tmp_path: Path, fail_at: str) -> None:
    images_dir = tmp_path / "images"
    store, blobs, catalog = failing_store(images_dir)
    kept, kept_display = photo()
    kept_record = store.add_sync(kept, io.BytesIO(kept_display))
    blobs.fail_on = {"thumbnail": ".thumb.jpg", "original": ".heic", "row": ""}[fail_at]
    catalog.fail = fail_at == "row"
    image, display = photo()
    with pytest.raises(StorageFull if fail_at != "row" else CatalogError):
        store.add_sync(image, io.BytesIO(display))
    assert on_disk(images_dir) == sorted(kept_record.keys)
    assert work_files(images_dir) == []  # no marker, no partial file
    assert store.catalog.count() == 1
    store.close()


def test_delete_and_group_delete_remove_every_key(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    store = open_image_store(images_dir)
    made = (photo(), photo(False), photo(thumbnail_type="image/webp"))
    records = [store.add_sync(image, io.BytesIO(display)) for image, display in made]
    assert store.delete_sync(records[0].id) == records[0]
    assert on_disk(images_dir) == sorted([*records[1].keys, *records[2].keys])
    assert store.delete_many_sync([records[1].id, "missing", records[2].id]) == [records[1], None, records[2]]
    assert on_disk(images_dir) == [] and store.catalog.count() == 0
    store.close()


def test_a_crash_before_the_row_leaves_markers_that_sweep_every_key(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    open_image_store(images_dir).close()
    # A real process stores all three keys and is SIGKILLed where it would commit the row.
    script = textwrap.dedent("""
        import io, os, signal, sys
        from pathlib import Path
        from imagehost.storage import NewImage, Original, Thumbnail, open_image_store
        store = open_image_store(Path(sys.argv[1]))
        store.catalog.add = lambda record: os.kill(os.getpid(), signal.SIGKILL)
        image = NewImage("c.heic", "image/jpeg", 3, 1, 1, Thumbnail(b"thumb", "image/webp"),
                         Original(io.BytesIO(b"heic"), "image/heic"))
        store.add_sync(image, io.BytesIO(b"jpg"))
    """)
    result = subprocess.run([sys.executable, "-c", script, str(images_dir)], capture_output=True, timeout=30, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    left = on_disk(images_dir)
    assert len(left) == 3 and {key.split(".", 1)[1] for key in left} == {"jpg", "thumb.webp", "heic"}
    assert work_files(images_dir) == sorted(f"pending-{key}" for key in left)

    store = open_image_store(images_dir)
    audit = store.audit()
    assert sorted(audit.work.uncommitted) == left and audit.bytes_without_rows == []  # in their markers
    report = store.sweep()
    assert sorted(report.work.uncommitted) == left and report.unrecorded == []
    assert on_disk(images_dir) == [] and work_files(images_dir) == []
    store.close()


def test_strays_and_missing_renditions_are_reported_and_repaired(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    store = open_image_store(images_dir)
    with_thumb = store.add_sync(*_source(photo(False)))
    bare = store.add_sync(NewImage("old.jpg", "image/jpeg", len(drawn_jpeg()), 8, 6), io.BytesIO(drawn_jpeg()))
    stray_thumb = f"{bare.id}.thumb.jpg"  # a thumbnail its row does not name
    orphan = "Z" * 22 + ".thumb.webp"  # a thumbnail of no image at all
    (images_dir / stray_thumb).write_bytes(drawn_jpeg())
    (images_dir / orphan).write_bytes(drawn_webp())
    (images_dir / with_thumb.thumbnail_key).unlink()

    audit = store.audit()
    assert audit.bytes_without_rows == sorted([stray_thumb, orphan])
    assert audit.missing_renditions == [with_thumb.thumbnail_key] and audit.rows_without_bytes == []
    assert not audit.clean
    assert store.sweep().unrecorded == sorted([stray_thumb, orphan])  # reported, never deleted
    assert (images_dir / stray_thumb).exists() and (images_dir / orphan).exists()

    assert store.forget_rendition(with_thumb.thumbnail_key)
    mended = store.catalog.get(with_thumb.id)
    assert mended is not None and mended.thumbnail_type is None and mended.thumbnail_key == mended.key
    assert store.audit().missing_renditions == []
    assert not store.forget_rendition(f"{bare.id}.jpg")  # the image's own bytes are never "a rendition"
    store.close()


def _source(pair: tuple[NewImage, bytes]) -> tuple[NewImage, io.BytesIO]:
    return pair[0], io.BytesIO(pair[1])


def test_a_version_2_catalog_with_rows_is_upgraded_in_place(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    path = catalog_path(images_dir)
    path.parent.mkdir(parents=True)
    # The file exactly as the release before renditions made it (schema version 2).
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE images (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                filename TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL,
                width INTEGER NOT NULL, height INTEGER NOT NULL, created_at TEXT NOT NULL);
            CREATE TABLE image_count (one INTEGER PRIMARY KEY CHECK (one = 1), total INTEGER NOT NULL);
            CREATE TRIGGER images_count_insert AFTER INSERT ON images
            BEGIN UPDATE image_count SET total = total + 1 WHERE one = 1; END;
            CREATE TRIGGER images_count_delete AFTER DELETE ON images
            BEGIN UPDATE image_count SET total = total - 1 WHERE one = 1; END;
            INSERT INTO image_count VALUES (1, 0);
            CREATE TABLE catalog_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO catalog_meta VALUES ('identity', '0123456789abcdef0123456789abcdef');
            PRAGMA user_version = 2;
        """)
        for letter in "AB":
            connection.execute(
                "INSERT INTO images (id, filename, content_type, size, width, height, created_at)"
                " VALUES (?, 'old.png', 'image/png', 3, 8, 6, ?)",
                (letter * 22, datetime(2026, 1, 1, tzinfo=UTC).isoformat()),
            )
    connection.close()
    path.with_suffix(".id").write_text("0123456789abcdef0123456789abcdef\n")
    for letter in "AB":
        (images_dir / f"{letter * 22}.png").write_bytes(b"png")

    store = open_image_store(images_dir)
    assert store.catalog.identity == "0123456789abcdef0123456789abcdef"
    old = store.catalog.get("A" * 22)
    assert old is not None and old.thumbnail_type is None and old.original_type is None and old.keys == (old.key,)
    assert [record.id for record in store.catalog.page(10, None).records] == ["B" * 22, "A" * 22]
    image, display = photo()
    new = store.add_sync(image, io.BytesIO(display))
    assert store.catalog.get(new.id) == new and store.catalog.count() == 3
    assert store.audit().clean
    store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    connection.close()
    open_image_store(images_dir).close()  # opening an upgraded catalog again changes nothing


@pytest.mark.parametrize("key", ["A" * 22 + ".thumb.jpg", "A" * 22 + ".thumb.webp"])
def test_a_thumbnail_of_either_type_is_a_key(key: str) -> None:
    assert KEY_PATTERN.match(key) and is_thumbnail(key) and not is_display(key)


@pytest.mark.parametrize(
    "key",
    ["A" * 22 + ".thumb.png", "A" * 22 + ".thumb.heic", "A" * 22 + ".thumb.jpg.webp", "A" * 22 + ".heic.jpg",
     "A" * 22 + ".thumbwebp", "A" * 22 + ".bin"],
)
def test_no_other_name_is_a_key(tmp_path: Path, key: str) -> None:
    assert not KEY_PATTERN.match(key)
    blobs = FileBlobStore(tmp_path / "images", tmp_path / "images" / "tmp")
    with pytest.raises(StorageError):
        blobs.put(key, io.BytesIO(b"x"))
    blobs.close()
