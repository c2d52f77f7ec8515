"""The sweep removes only bytes it can prove were never committed; everything else is reported.

Crashes are real: a child process stores bytes through the storage layer and is SIGKILLed at the
step under test, so what it leaves is exactly what a crash leaves.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from imagehost.storage import CatalogError, ImageStore, NewImage, open_image_store
from imagehost.storage.file_blobs import PENDING_PREFIX, FileBlobStore, SpoolFile
from tests.crash import crash_mid_upload
from tests.imagedata import drawn_png

def work_files(store: ImageStore) -> list[str]:
    work_dir: Path = store.blobs.work_dir  # type: ignore[attr-defined]
    return sorted(path.name for path in work_dir.iterdir())


def add(store: ImageStore) -> str:
    data = drawn_png()
    image = NewImage(filename="a.png", content_type="image/png", size=len(data), width=8, height=6)
    return store.add_sync(image, io.BytesIO(data)).key


@pytest.fixture
def images_dir(tmp_path: Path) -> Path:
    return tmp_path / "images"


def test_a_crash_between_bytes_and_row_is_swept(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    kept = add(store)
    key = crash_mid_upload(images_dir, "after_bytes")
    assert (images_dir / key).exists() and work_files(store) == [PENDING_PREFIX + key]

    report = store.sweep()
    assert report.work.uncommitted == [key] and report.unrecorded == []
    assert not (images_dir / key).exists() and work_files(store) == []
    assert set(store.blobs.keys()) == {kept} and store.catalog.count() == 1
    store.close()


def test_a_crash_after_the_row_keeps_the_image_and_drops_the_marker(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    key = crash_mid_upload(images_dir, "after_row")
    report = store.sweep()
    assert (report.work.committed_markers, report.work.uncommitted) == (1, [])
    assert (images_dir / key).read_bytes() == drawn_png() and work_files(store) == []
    assert store.catalog.get(key.split(".")[0]) is not None
    store.close()


def test_bytes_without_a_row_and_without_a_marker_are_reported_not_deleted(images_dir: Path) -> None:
    """What a lost catalog looks like: the sweep of old deleted every such file."""
    store = open_image_store(images_dir)
    kept = add(store)
    orphans = [f"{letter * 22}.png" for letter in "DE"]
    for orphan in orphans:
        (images_dir / orphan).write_bytes(drawn_png())
        old = 1_000_000_000.0  # 2001: far older than any grace period
        os.utime(images_dir / orphan, (old, old))

    report = store.sweep()
    assert report.unrecorded == orphans and report.work.leftovers == 0
    assert set(store.blobs.keys()) == {kept, *orphans}
    assert store.audit().bytes_without_rows == orphans
    store.close()


def test_an_upload_in_flight_is_left_alone_by_a_sweep(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    data = drawn_png()
    key = "F" * 22 + ".png"
    pending = store.blobs.put(key, io.BytesIO(data))  # bytes stored, row not yet: in flight
    other = open_image_store(images_dir)  # another worker starting up meanwhile
    report = other.sweep()
    assert report.work.in_flight == 1 and report.work.leftovers == 0 and report.unrecorded == []
    assert (images_dir / key).exists()
    pending.commit()
    assert work_files(store) == []
    other.close()
    store.close()


def test_a_marker_whose_name_holds_other_bytes_keeps_those_bytes(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    key = "G" * 22 + ".png"
    (images_dir / key).write_bytes(b"someone else's file")
    (store.blobs.work_dir / f"{PENDING_PREFIX}{key}").write_bytes(drawn_png())  # type: ignore[attr-defined]
    report = store.sweep()
    assert report.work.mismatched == [key] and report.work.uncommitted == []
    assert (images_dir / key).read_bytes() == b"someone else's file" and work_files(store) == []
    assert report.unrecorded == [key]  # kept, and reported
    store.close()


def test_partial_files_of_dead_writers_go_and_those_of_live_ones_stay(images_dir: Path) -> None:
    store = open_image_store(images_dir)
    work_dir: Path = store.blobs.work_dir  # type: ignore[attr-defined]
    (work_dir / "upload-dead.part").write_bytes(b"half")
    with SpoolFile(work_dir, named=True) as live:  # a named spool another request is writing
        live.write(b"receiving")
        report = store.sweep()
        assert (report.work.partial_files, report.work.in_flight) == (1, 1)
        assert live.temp_name is not None and Path(live.temp_name).exists()
    assert work_files(store) == []
    store.close()


def test_a_failed_row_leaves_neither_bytes_nor_marker(images_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_image_store(images_dir)

    def refuse(record: object) -> None:
        raise CatalogError("the catalog file was deleted while the server ran (injected)")

    monkeypatch.setattr(store.catalog, "add", refuse)
    data = drawn_png()
    with store.spool() as spool:  # the spooled (large upload) path: the bytes are linked in
        spool.write(data)
        spool.seek(0)
        with pytest.raises(CatalogError):
            store.add_sync(NewImage("a.png", "image/png", len(data), 8, 6), spool)
    assert store.blobs.keys() == [] and work_files(store) == []
    store.close()


def test_named_spools_mark_and_sweep_alike(images_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where O_TMPFILE is missing, every temporary file has a name from birth: the same rules hold."""
    monkeypatch.delattr(os, "O_TMPFILE")
    store = open_image_store(images_dir)
    assert isinstance(store.blobs, FileBlobStore)
    key = add(store)
    assert work_files(store) == [] and store.sweep().work.leftovers == 0
    assert (images_dir / key).exists()
    store.close()
