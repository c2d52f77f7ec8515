"""The storage contract: atomic writes, paging, deletes, health."""

from __future__ import annotations

import fcntl
import io
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from imagehost.storage import CatalogError, ImageStore, InvalidCursor, NewImage, StorageError
from imagehost.storage import file_blobs
from imagehost.storage.file_blobs import FileBlobStore
from imagehost.storage.sqlite_catalog import SqliteCatalog
from tests.imagedata import drawn_png


def new_image(name: str = "a.png", data: bytes | None = None) -> tuple[NewImage, bytes]:
    data = data if data is not None else drawn_png()
    return NewImage(filename=name, content_type="image/png", size=len(data), width=8, height=6), data


def add(store: ImageStore, name: str = "a.png") -> str:
    image, data = new_image(name)
    return store.add_sync(image, io.BytesIO(data)).id


def partial_files(store: ImageStore) -> list[Path]:
    work_dir: Path | None = getattr(store.blobs, "work_dir", None)
    return sorted(work_dir.iterdir()) if work_dir else []


def stored_files(store: ImageStore) -> set[str]:
    return set(store.blobs.keys())


def test_add_stores_bytes_and_record_together(image_store: ImageStore) -> None:
    image, data = new_image("cat.png")
    record = image_store.add_sync(image, io.BytesIO(data))
    assert image_store.catalog.get(record.id) == record
    assert stored_files(image_store) == {record.key}
    path = image_store.blobs.local_path(record.key)
    assert path is not None and path.read_bytes() == data
    assert len(record.id) == 22 and record.key == f"{record.id}.png"
    assert record.created_at.utcoffset() is not None


def test_ids_are_unique_and_url_safe(image_store: ImageStore) -> None:
    ids = {add(image_store) for _ in range(50)}
    assert len(ids) == 50
    assert all(set(image_id) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for image_id in ids)


def test_failure_between_bytes_and_record_leaves_nothing(image_store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = add(image_store, "kept.png")

    def failing_add(record: object) -> None:
        raise CatalogError("disk full (injected)")

    monkeypatch.setattr(image_store.catalog, "add", failing_add)
    image, data = new_image("lost.png")
    with pytest.raises(CatalogError):
        image_store.add_sync(image, io.BytesIO(data))
    monkeypatch.undo()

    assert image_store.catalog.count() == 1
    assert [key.split(".")[0] for key in stored_files(image_store)] == [keep]
    assert not any(image_store.blobs.work_dir.iterdir())  # type: ignore[attr-defined]


def test_failure_while_writing_bytes_leaves_no_partial_file(image_store: ImageStore) -> None:
    class BrokenStream(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            if self.sent > 3 * 1024 * 1024:
                raise OSError(5, "connection lost (injected)")
            buffer[: len(buffer)] = b"x" * len(buffer)
            self.sent += len(buffer)
            return len(buffer)

    image, _ = new_image()
    with pytest.raises((StorageError, OSError)):
        image_store.add_sync(image, io.BufferedReader(BrokenStream()))
    assert stored_files(image_store) == set()
    assert image_store.catalog.count() == 0
    assert not any(image_store.blobs.work_dir.iterdir())  # type: ignore[attr-defined]


def test_files_are_readable_by_other_users(image_store: ImageStore) -> None:
    record_id = add(image_store)
    path = image_store.blobs.local_path(f"{record_id}.png")
    assert path is not None and os.stat(path).st_mode & 0o777 == 0o644


def test_blob_store_never_overwrites(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path, tmp_path / "tmp")
    key = "A" * 22 + ".png"
    blobs.put(key, io.BytesIO(b"first")).commit()
    with pytest.raises(StorageError):
        blobs.put(key, io.BytesIO(b"second"))
    assert (tmp_path / key).read_bytes() == b"first"
    assert list((tmp_path / "tmp").iterdir()) == []  # the refused write left no marker or partial file


@pytest.mark.parametrize("key", ["../escape.png", "a.png", "A" * 22 + ".exe", ".imagehost/catalog.sqlite3"])
def test_blob_store_refuses_keys_it_did_not_make(tmp_path: Path, key: str) -> None:
    blobs = FileBlobStore(tmp_path / "images", tmp_path / "images" / "tmp")
    with pytest.raises(StorageError):
        blobs.put(key, io.BytesIO(b"x"))
    assert not (tmp_path / "escape.png").exists()


def test_pages_newest_first_and_stable_under_inserts_and_deletes(image_store: ImageStore) -> None:
    ids = [add(image_store, f"{n}.png") for n in range(7)]  # ids[6] is the newest
    first = image_store.catalog.page(3, None)
    assert [r.id for r in first.records] == ids[6:3:-1]
    assert first.has_next_page and first.total_count == 7

    # Inserts after the cursor was handed out, and a delete of a later item, move nothing.
    add(image_store, "newer.png")
    image_store.delete_sync(ids[1])
    second = image_store.catalog.page(3, first.end_cursor)
    assert [r.id for r in second.records] == [ids[3], ids[2], ids[0]]
    assert not second.has_next_page
    assert second.total_count == 7


def test_cursor_of_a_deleted_item_still_works(image_store: ImageStore) -> None:
    ids = [add(image_store) for _ in range(4)]
    page = image_store.catalog.page(2, None)
    image_store.delete_sync(page.records[-1].id)
    rest = image_store.catalog.page(2, page.end_cursor)
    assert [r.id for r in rest.records] == [ids[1], ids[0]]


def test_last_page_exactly_full_has_no_next(image_store: ImageStore) -> None:
    for _ in range(4):
        add(image_store)
    page = image_store.catalog.page(4, None)
    assert len(page.records) == 4 and not page.has_next_page
    assert image_store.catalog.page(4, page.end_cursor).records == []


def test_empty_catalog(image_store: ImageStore) -> None:
    page = image_store.catalog.page(10, None)
    assert (page.records, page.has_next_page, page.end_cursor, page.total_count) == ([], False, None, 0)


@pytest.mark.parametrize("cursor", ["", "nonsense", "c2VxOi0x", "c2VxOmFiYw", "!!!"])
def test_foreign_cursors_are_refused(image_store: ImageStore, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        image_store.catalog.page(5, cursor)


def test_delete_removes_bytes_and_record(image_store: ImageStore) -> None:
    record_id = add(image_store)
    removed = image_store.delete_sync(record_id)
    assert removed is not None and removed.id == record_id
    assert image_store.catalog.get(record_id) is None
    assert stored_files(image_store) == set()
    assert image_store.delete_sync(record_id) is None


def test_delete_many_answers_each_id_in_order(image_store: ImageStore) -> None:
    first, second, kept = add(image_store), add(image_store), add(image_store)
    records = image_store.delete_many_sync([first, "B" * 22, second, first])
    assert [record.id if record else None for record in records] == [first, None, second, None]
    assert image_store.catalog.ids() == {kept}
    assert {key.split(".")[0] for key in stored_files(image_store)} == {kept}
    assert image_store.catalog.count() == 1


def test_deletes_waiting_for_the_catalog_go_together(image_store: ImageStore) -> None:
    """While the catalog is busy, the deletes that arrive queue up and then run as one batch."""
    ids = [add(image_store, f"{n}.png") for n in range(12)]
    batches: list[list[str]] = []
    remove_many = image_store.catalog.remove_many

    def recording_remove_many(image_ids: Any) -> Any:
        batches.append(list(image_ids))
        return remove_many(image_ids)

    image_store.catalog.remove_many = recording_remove_many  # type: ignore[method-assign]
    lock_path = image_store.catalog.path.with_suffix(".lock")  # type: ignore[attr-defined]
    answers: dict[str, str | None] = {}

    async def delete(image_id: str) -> None:
        record = await image_store.delete(image_id)
        answers[image_id] = record.id if record else None

    async def main() -> None:
        descriptor = os.open(lock_path, os.O_RDWR)
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # another process is writing the catalog
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(delete, ids[0])
                await anyio.sleep(0.1)  # its batch is in a worker thread, waiting for the lock
                for image_id in ids[1:]:
                    tasks.start_soon(delete, image_id)
                await anyio.sleep(0.1)
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    anyio.run(main)
    assert answers == {image_id: image_id for image_id in ids}
    assert batches == [ids[:1], ids[1:]]
    assert image_store.catalog.count() == 0 and stored_files(image_store) == set()


def test_count_follows_adds_and_deletes(image_store: ImageStore) -> None:
    ids = [add(image_store) for _ in range(5)]
    image_store.delete_sync(ids[0])
    assert image_store.catalog.count() == 4 == len(image_store.catalog.ids())


def test_parallel_adds_and_deletes_stay_consistent(image_store: ImageStore) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda n: add(image_store, f"{n}.png"), range(40)))
        list(pool.map(image_store.delete_sync, ids[:15]))
    assert image_store.catalog.ids() == set(ids[15:])
    assert {key.split(".")[0] for key in stored_files(image_store)} == set(ids[15:])
    assert image_store.catalog.count() == 25


def test_check_passes_on_a_working_store_and_fails_when_it_cannot_write(image_store: ImageStore) -> None:
    image_store.check_sync()
    work_dir: Path = image_store.blobs.work_dir  # type: ignore[attr-defined]
    # A file where the work folder should be: no write can succeed, even as root.
    work_dir.rmdir()
    work_dir.write_bytes(b"")
    try:
        with pytest.raises(StorageError):
            image_store.check_sync()
    finally:
        work_dir.unlink()
        work_dir.mkdir()


def _open_catalog_at_once(path: Path, barrier: Any) -> None:
    barrier.wait()
    SqliteCatalog(path).close()


def test_workers_starting_together_all_open_a_new_catalog(tmp_path: Path) -> None:
    # Found by the stack tests: two workers creating the catalog at the same moment raced to
    # switch it to WAL, and one died with "database is locked".
    context = multiprocessing.get_context("fork")
    for round_number in range(15):
        path = tmp_path / f"round{round_number}" / "catalog.sqlite3"
        barrier = context.Barrier(4)
        processes = [context.Process(target=_open_catalog_at_once, args=(path, barrier)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=30)
        assert [process.exitcode for process in processes] == [0, 0, 0, 0]


def test_a_spooled_upload_is_stored_without_a_second_copy(image_store: ImageStore) -> None:
    image, data = new_image("spooled.png")
    with image_store.spool() as spool:
        spool.write(data)
        spool.seek(0)
        record = image_store.add_sync(image, spool)
        again = image_store.add_sync(image, spool)  # one upload mapped into two variables
        path = image_store.blobs.local_path(record.key)
        assert path is not None and path.read_bytes() == data
        if isinstance(image_store.blobs, FileBlobStore):  # the bytes are linked, not copied
            assert os.fstat(spool.handle).st_ino == path.stat().st_ino  # type: ignore[attr-defined]
    # Closing the spool leaves no temporary file; both stored images keep their bytes.
    assert partial_files(image_store) == []
    for stored in (record, again):
        kept = image_store.blobs.local_path(stored.key)
        assert kept is not None and kept.read_bytes() == data and kept.stat().st_mode & 0o777 == 0o644
    assert stored_files(image_store) == {record.key, again.key}


def test_an_unused_spool_leaves_nothing_behind(image_store: ImageStore) -> None:
    with image_store.spool() as spool:
        spool.write(b"half an upload")
    assert partial_files(image_store) == []
    assert stored_files(image_store) == set()
    assert image_store.sweep().work.leftovers == 0


@pytest.mark.parametrize("missing", ["O_TMPFILE", "/proc"])
def test_spooled_uploads_are_stored_where_unnamed_files_or_proc_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    if missing == "O_TMPFILE":
        monkeypatch.delattr(os, "O_TMPFILE")  # as on macOS: a named temporary file instead
    else:
        link = file_blobs._link

        def no_proc(handle: int, temp_name: str | None, dir_fd: int, name: str) -> None:
            if temp_name is None:  # an unnamed file can only be named through /proc
                raise FileNotFoundError(2, "No such file or directory", "/proc/self/fd")
            link(handle, temp_name, dir_fd, name)

        monkeypatch.setattr(file_blobs, "_link", no_proc)  # the store finds out, and names its files
    store = FileBlobStore(tmp_path / "images", tmp_path / "work")
    data = drawn_png()
    key = "A" * 22 + ".png"
    with store.spool() as spool:
        spool.write(data)
        spool.seek(0)
        assert [path.name.startswith("upload-") for path in (tmp_path / "work").iterdir()] == [True]
        pending = store.put(key, spool)
        assert {path.name for path in (tmp_path / "work").iterdir()} >= {f"pending-{key}"}
        pending.commit()
    assert (tmp_path / "images" / key).read_bytes() == data
    assert list((tmp_path / "work").iterdir()) == []
