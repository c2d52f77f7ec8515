"""The catalog knows whether it is the images' own, refuses writes it could not keep, and stays
within a few connections however many threads come and go."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from imagehost.storage import (
    CatalogError,
    CatalogMissing,
    CatalogReplaced,
    ImageStore,
    NewImage,
    catalog_path,
    open_image_store,
)
from imagehost.storage.sqlite_catalog import MAX_CONNECTIONS, SqliteCatalog
from tests.imagedata import drawn_png
from tests.small_disk import immutable


def add(store: ImageStore, name: str = "a.png") -> str:
    data = drawn_png()
    return store.add_sync(NewImage(name, "image/png", len(data), 8, 6), io.BytesIO(data)).id


def image_files(images_dir: Path) -> list[str]:
    return sorted(path.name for path in images_dir.iterdir() if path.is_file())


@pytest.fixture
def images_dir(tmp_path: Path) -> Path:
    return tmp_path / "images"


# -- identity at start-up ---------------------------------------------------------------------


def test_a_new_catalog_gets_an_identity_and_a_copy_beside_it(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    identity = store.catalog.identity
    assert len(identity) == 32
    assert (catalog_path(images_dir).with_suffix(".id")).read_text().strip() == identity
    add(store)
    store.close()
    again = open_image_store(images_dir)
    assert again.catalog.identity == identity and again.catalog.count() == 1
    again.close()


def test_a_missing_catalog_beside_images_refuses_to_open_and_creates_nothing(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    for _ in range(3):
        add(store)
    store.close()
    catalog_path(images_dir).unlink()

    with pytest.raises(CatalogMissing) as refused:
        open_image_store(images_dir)
    assert refused.value.image_count == 3
    assert not catalog_path(images_dir).exists()  # an empty catalog would hide the images
    assert len(image_files(images_dir)) == 3

    repaired = open_image_store(images_dir, repair=True)  # what `imagehost check --repair` opens
    assert repaired.catalog.count() == 0 and len(repaired.unrecorded_keys()) == 3
    assert catalog_path(images_dir).with_suffix(".id").read_text().strip() == repaired.catalog.identity
    repaired.close()


def test_a_missing_catalog_without_images_is_simply_made_again(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    old_identity = store.catalog.identity
    store.delete_sync(add(store))
    store.close()
    catalog_path(images_dir).unlink()
    fresh = open_image_store(images_dir)
    assert fresh.catalog.identity != old_identity and fresh.catalog.count() == 0
    fresh.close()


def test_another_catalog_in_its_place_refuses_to_open_until_adopted(tmp_path: Path, images_dir: Path) -> None:
    store = open_image_store(images_dir)
    add(store)
    store.close()
    other = open_image_store(tmp_path / "other")
    add(other)
    other.close()
    shutil.copy(catalog_path(tmp_path / "other"), catalog_path(images_dir))

    with pytest.raises(CatalogReplaced) as refused:
        open_image_store(images_dir)
    assert refused.value.found == other.catalog.identity and refused.value.expected == store.catalog.identity

    adopted = open_image_store(images_dir, repair=True)
    assert adopted.catalog.identity == other.catalog.identity
    assert len(adopted.rows_without_bytes()) == 1 and len(adopted.unrecorded_keys()) == 1
    adopted.close()
    open_image_store(images_dir).close()  # adopted: it opens normally from now on


def test_a_catalog_from_before_identities_is_upgraded_in_place(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    image_id = add(store)
    store.close()
    path = catalog_path(images_dir)
    with sqlite3.connect(path) as connection:  # back to schema version 1, as the last release left it
        connection.execute("DROP TABLE catalog_meta")
        connection.execute("PRAGMA user_version = 1")
    connection.close()
    path.with_suffix(".id").unlink()

    upgraded = open_image_store(images_dir)
    assert upgraded.catalog.get(image_id) is not None and len(upgraded.catalog.identity) == 32
    assert path.with_suffix(".id").read_text().strip() == upgraded.catalog.identity
    upgraded.close()


def test_a_deleted_catalogs_journal_is_not_replayed_into_the_new_one(images_dir: Path) -> None:
    path = catalog_path(images_dir)
    holder = open_image_store(images_dir)
    image_id = add(holder)
    holder.delete_sync(image_id)  # no images left, but the rows' history is in the -wal file
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    path.unlink()  # deleted while a process still has it open (its -wal and -shm stay)
    fresh = open_image_store(images_dir)
    assert fresh.catalog.count() == 0 and fresh.catalog.page(5, None).records == []
    fresh.catalog.check()
    fresh.close()
    holder.close()


# -- faults while running ----------------------------------------------------------------------


def test_a_catalog_deleted_while_open_refuses_writes_and_keeps_no_bytes(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    kept = add(store)
    catalog_path(images_dir).unlink()
    with pytest.raises(CatalogError, match="deleted while the server ran"):
        store.check_sync()
    with pytest.raises(CatalogError, match="deleted"):
        store.precheck_upload()
    with pytest.raises(CatalogError, match="deleted"):
        add(store)  # even past the pre-check: the write itself refuses, and the bytes go again
    with pytest.raises(CatalogError, match="deleted"):
        store.delete_sync(kept)
    assert image_files(images_dir) == [f"{kept}.png"]
    assert not catalog_path(images_dir).exists()  # no new empty catalog was made behind our back
    store.close()


def test_a_catalog_replaced_while_open_refuses_writes(tmp_path: Path, images_dir: Path) -> None:
    store = open_image_store(images_dir)
    add(store)
    open_image_store(tmp_path / "other").close()
    os.replace(catalog_path(tmp_path / "other"), catalog_path(images_dir))
    with pytest.raises(CatalogError, match="replaced while the server ran"):
        store.check_sync()
    with pytest.raises(CatalogError, match="replaced"):
        add(store)
    assert len(image_files(images_dir)) == 1
    store.close()


def test_a_backup_restored_after_the_catalog_was_deleted_while_open_opens_as_it_was(
    tmp_path: Path, images_dir: Path
) -> None:
    store = open_image_store(images_dir)
    first = add(store)
    backup = tmp_path / "backup.sqlite3"
    with sqlite3.connect(catalog_path(images_dir)) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    source.close()
    copy.close()
    second = add(store)  # after the backup: in the deleted catalog's -wal, which SQLite leaves behind
    catalog_path(images_dir).unlink()
    with pytest.raises(CatalogError):
        add(store)
    store.close()

    shutil.copy(backup, catalog_path(images_dir))
    restored = open_image_store(images_dir)  # the old -wal was set aside, not replayed into the backup
    assert restored.catalog.ids() == {first}
    assert restored.unrecorded_keys() == [f"{second}.png"]
    restored.check_sync()
    restored.close()


def test_an_immutable_catalog_refuses_writes_and_recovers_when_writable_again(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    add(store)
    with immutable(catalog_path(images_dir)):
        with pytest.raises(CatalogError, match="not writable"):
            store.check_sync()
        with pytest.raises(CatalogError, match="not writable"):
            add(store)
        assert len(image_files(images_dir)) == 1
    store.check_sync()
    add(store)
    assert store.catalog.count() == 2
    store.close()


# -- connections -------------------------------------------------------------------------------


def catalog_fds(path: Path) -> int:
    """Open file descriptors of this process on the catalog's files (db, -wal, -shm)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)) and not target.endswith(".lock"):
            count += 1
    return count


def test_connections_stay_bounded_while_short_lived_threads_come_and_go(images_dir: Path) -> None:
    """anyio retires idle worker threads: a connection per thread grew without bound."""
    store = open_image_store(images_dir)
    catalog = store.catalog
    assert isinstance(catalog, SqliteCatalog)
    add(store)
    barrier = threading.Barrier(30)

    def burst_call() -> None:
        barrier.wait()  # all 30 at once: more than the pool opens
        for _ in range(3):
            assert catalog.count() == 1
            catalog.page(10, None)

    after_each_burst = []
    for _ in range(5):
        threads = [threading.Thread(target=burst_call) for _ in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        barrier.reset()
        after_each_burst.append((catalog.open_connections(), catalog_fds(catalog.path)))
    assert all(connections <= MAX_CONNECTIONS for connections, _ in after_each_burst), after_each_burst
    # Each connection holds the database and its -wal (and the process one -shm).
    assert all(fds <= 2 * MAX_CONNECTIONS + 1 for _, fds in after_each_burst), after_each_burst
    store.close()
    assert catalog_fds(catalog.path) == 0
