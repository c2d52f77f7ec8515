"""A full disk, for real (a small tmpfs): StorageFull, nothing half-stored, and the free-space floor."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagehost.storage import ImageStore, NewImage, StorageFull, open_image_store
from imagehost.storage.file_blobs import NoRoomSpool
from tests.imagedata import drawn_png
from tests.small_disk import fill, free_bytes, small_disk

MIB = 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk", size_mib=8) as mounted:
        yield mounted


def image(size: int) -> tuple[NewImage, bytes]:
    data = drawn_png() + b"\0" * (size - len(drawn_png()))
    return NewImage("big.png", "image/png", len(data), 8, 6), data


def everything_stored(store: ImageStore) -> tuple[list[str], list[str]]:
    work_dir: Path = store.blobs.work_dir  # type: ignore[attr-defined]
    return sorted(store.blobs.keys()), sorted(path.name for path in work_dir.iterdir())


def test_bytes_that_do_not_fit_are_storage_full_and_leave_nothing(disk: Path) -> None:
    store = open_image_store(disk / "images")
    kept = store.add_sync(*_source(image(64 * 1024)))
    filler = fill(disk, leave_bytes=256 * 1024)
    for size in (512 * 1024, 3 * MIB):  # an in-memory upload, and one past what fits
        new, data = image(size)
        with pytest.raises(StorageFull):
            store.add_sync(new, io.BytesIO(data))
        assert everything_stored(store) == ([kept.key], [])
    assert store.catalog.count() == 1
    filler.unlink()
    assert store.add_sync(*_source(image(512 * 1024))).size == 512 * 1024
    store.close()


def test_a_spool_that_meets_a_full_disk_keeps_nothing_and_says_so(disk: Path) -> None:
    store = open_image_store(disk / "images")
    fill(disk, leave_bytes=512 * 1024)
    with store.spool() as spool:
        for _ in range(4):  # 4 MiB arriving in pieces, as the multipart parser writes them
            assert spool.write(b"\0" * MIB) == MIB  # no exception: the parser reads on
        assert getattr(spool, "full", False)
        assert free_bytes(disk) >= 512 * 1024  # what was written is given back at once
        with pytest.raises(StorageFull):
            store.precheck_upload(spool)
        new, _ = image(4 * MIB)
        with pytest.raises(StorageFull):
            store.add_sync(new, spool)
    assert everything_stored(store) == ([], [])
    store.close()


def test_a_spool_written_in_small_pieces_or_by_pillow_on_a_full_disk_never_raises(disk: Path) -> None:
    from PIL import Image

    store = open_image_store(disk / "images")
    fill(disk, leave_bytes=64 * 1024)
    with store.spool() as spool:  # small writes, as a metadata stripper makes them, then a seek
        for _ in range(4096):
            spool.write(b"\0" * 100)
        spool.seek(0)
        assert getattr(spool, "full", False)
    with store.spool() as spool:  # an encoder that would write to a descriptor directly if it had one
        Image.effect_noise((512, 512), 64).convert("RGB").save(spool, "PNG", compress_level=0)
        spool.seek(0)
        assert getattr(spool, "full", False)
        with pytest.raises(StorageFull):
            store.precheck_upload(spool)
    assert everything_stored(store) == ([], [])
    store.close()


def test_a_row_that_cannot_be_committed_for_space_removes_its_bytes(disk: Path) -> None:
    store = open_image_store(disk / "images")
    new, data = image(20 * 1024)
    filler = fill(disk)
    # Give back room for the bytes (whole pages) but not for the catalog's journal to grow.
    size = filler.stat().st_size
    for spare in range(len(data) + 4096, len(data) + 64 * 1024, 4096):
        filler.write_bytes(b"")
        fill(disk, leave_bytes=spare)
        try:
            store.add_sync(new, io.BytesIO(data))
        except StorageFull as full:
            if "record" in str(full):  # refused at the catalog, after the bytes were in
                break
        else:
            pytest.fail("the row committed with no room for its journal")
    else:
        pytest.skip(f"could not hit the catalog's commit on a full disk (filler {size} bytes)")
    assert everything_stored(store) == ([], [])
    assert store.catalog.count() == 0
    store.close()


def test_below_the_floor_nothing_is_spooled_or_stored_and_it_recovers(disk: Path) -> None:
    store = open_image_store(disk / "images", min_free_bytes=6 * MIB)
    store.check_sync()
    filler = disk / "filler"
    filler.write_bytes(b"\xff" * 3 * MIB)
    time.sleep(1.05)  # free space is read at most once a second
    with pytest.raises(StorageFull) as refused:
        store.check_sync()
    assert refused.value.floor_bytes == 6 * MIB and refused.value.free_bytes is not None
    with store.spool() as spool:
        assert isinstance(spool, NoRoomSpool)  # no file made at all
        with pytest.raises(StorageFull):
            store.precheck_upload(spool)
    with pytest.raises(StorageFull):
        store.precheck_upload(io.BytesIO(drawn_png()))
    assert everything_stored(store) == ([], [])

    filler.unlink()
    time.sleep(1.05)
    store.check_sync()
    store.precheck_upload(io.BytesIO(drawn_png()))
    store.close()


def _source(new_and_data: tuple[NewImage, bytes]) -> tuple[NewImage, io.BytesIO]:
    new, data = new_and_data
    return new, io.BytesIO(data)
