"""The accounts part of the storage contract: sessions expire, counters hold across processes,
quotas are checked where the row is written, and an account's images are never orphaned bytes."""

from __future__ import annotations

import io
import multiprocessing
from pathlib import Path

import pytest

from imagehost.storage import ImageStore, NewImage, QuotaExceeded, UsernameTaken, open_image_store
from tests.imagedata import drawn_png

DAY = 24 * 3600


def add_image(store: ImageStore, owner_id: str | None, data: bytes | None = None) -> str:
    data = data or drawn_png()
    image = NewImage(filename="a.png", content_type="image/png", size=len(data), width=8, height=6, owner_id=owner_id)
    return store.add_sync(image, io.BytesIO(data)).id


def test_the_first_admin_is_made_once_and_adopts_owner_less_images(image_store: ImageStore) -> None:
    old = add_image(image_store, None)
    admin = image_store.accounts.create_user("admin", "hash", is_admin=True, only_if_none=True)
    assert admin is not None and admin.is_admin
    assert image_store.accounts.create_user("other", "hash", is_admin=True, only_if_none=True) is None
    assert image_store.catalog.get(old).owner_id == admin.id  # type: ignore[union-attr]
    counted = image_store.accounts.user(admin.id)
    assert counted is not None and counted.image_count == 1 and counted.stored_bytes == len(drawn_png())
    with pytest.raises(UsernameTaken):
        image_store.accounts.create_user("admin", "hash", is_admin=False)


def test_sessions_end_when_idle_or_old_and_are_touched_sparingly(image_store: ImageStore) -> None:
    accounts = image_store.accounts
    user = accounts.create_user("u", "hash", is_admin=False)
    assert user is not None
    accounts.create_session(user.id, "s1", now=1_000_000.0)
    policy = {"idle_seconds": 14 * DAY, "lifetime_seconds": 90 * DAY, "touch_after": 600}
    assert accounts.session_user("s1", 1_000_000.0 + 13 * DAY, **policy) is not None  # used: touched
    assert accounts.session_user("s1", 1_000_000.0 + 26 * DAY, **policy) is not None  # 13 days after the touch
    assert accounts.session_user("s1", 1_000_000.0 + 41 * DAY, **policy) is None  # 15 days idle: ended
    assert accounts.session_user("s1", 1_000_000.0 + 42 * DAY, **policy) is None  # and gone for good
    accounts.create_session(user.id, "s2", now=0.0)
    for day in [*range(0, 90, 10), 91]:  # used every ten days, still at most 90 days long
        found = accounts.session_user("s2", day * DAY, **policy)
        assert (found is not None) == (day < 90), day
    accounts.create_session(user.id, "s3", now=0.0)
    assert accounts.set_password(user.id, "new hash")
    assert accounts.session_user("s3", 1.0, **policy) is None  # a new password ends every session


def test_a_quota_is_checked_with_the_row_and_counts_every_rendition(image_store: ImageStore) -> None:
    accounts = image_store.accounts
    user = accounts.create_user("q", "hash", is_admin=False)
    assert user is not None
    data = drawn_png()
    accounts.set_quota(user.id, len(data) * 2)
    add_image(image_store, user.id, data)
    add_image(image_store, user.id, data)
    before = set(image_store.blobs.keys())
    with pytest.raises(QuotaExceeded):
        add_image(image_store, user.id, data)
    assert set(image_store.blobs.keys()) == before  # the bytes written for it were removed again
    counted = accounts.user(user.id)
    assert counted is not None and counted.image_count == 2 and counted.stored_bytes == 2 * len(data)


def test_removing_an_account_deletes_its_images_and_keeps_none_orphaned(image_store: ImageStore) -> None:
    accounts = image_store.accounts
    user = accounts.create_user("gone", "hash", is_admin=False)
    keep = accounts.create_user("stays", "hash", is_admin=False)
    assert user is not None and keep is not None
    mine = [add_image(image_store, user.id) for _ in range(3)]
    theirs = add_image(image_store, keep.id)
    accounts.create_token(user.id, "t", "token-hash")
    assert image_store.delete_owner_images(user.id) == 3
    late = add_image(image_store, user.id)  # an upload that raced the removal
    assert accounts.remove_user(user.id)
    assert all(image_store.catalog.get(image_id) is None for image_id in mine)
    assert image_store.catalog.get(late).owner_id is None  # type: ignore[union-attr]  # kept, for an admin to see
    assert image_store.catalog.get(theirs) is not None
    assert accounts.token_holder("token-hash", touch_after=60) is None


def _count_attempts(images_dir: Path, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = open_image_store(images_dir)
    try:
        results.put([store.accounts.count_attempt("sign-in:account", "x", 100.0, limit=5, window=900) is not None
                     for _ in range(5)])
    finally:
        store.close()


def test_attempts_are_counted_across_processes_without_passing_the_limit(tmp_path: Path) -> None:
    open_image_store(tmp_path / "images").close()
    results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    workers = [multiprocessing.get_context("spawn").Process(target=_count_attempts, args=(tmp_path / "images", results))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    allowed = sum(sum(results.get(timeout=60)) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert allowed == 5  # 15 attempts in three processes: exactly the limit got through
