"""`ImageStore`: the bytes and their catalog entry appear together or not at all."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from anyio import to_thread

from imagehost.storage.audit import Audit, SweepReport
from imagehost.storage.batching import Batched
from imagehost.storage.errors import BlobExists, StorageError
from imagehost.storage.keys import image_id_of
from imagehost.storage.protocols import Accounts, BlobStore, Catalog, PendingPut
from imagehost.storage.records import ImageRecord, NewImage, Page

logger = logging.getLogger("imagehost.storage")


def _remaining(stream: BinaryIO) -> int:
    """Bytes from the stream's position to its end (the position is kept)."""
    start = stream.tell()
    end = stream.seek(0, 2)
    stream.seek(start)
    return end - start


def new_image_id() -> str:
    """22 URL-safe characters, 128 random bits: unguessable, and never derived from user input."""
    return secrets.token_urlsafe(16)


class ImageStore:
    """Writes bytes first (every key of the image: display bytes, thumbnail, original) and the
    record second, and undoes every blob written if anything fails.

    A reader therefore never sees a record without bytes. Between the two steps the blob store
    keeps a record of the upload's intent; a crash there leaves bytes that `sweep` can prove
    were never committed, and it removes those and nothing else. Bytes without a row that
    carry no such proof (a lost catalog, files copied in by hand) are reported, never deleted.
    """

    def __init__(self, blobs: BlobStore, catalog: Catalog, accounts: Accounts) -> None:
        self.blobs = blobs
        self.catalog = catalog
        self.accounts = accounts
        """Accounts live beside the catalog (the same database), so an account and its images
        change together; resolvers reach them in worker threads like the catalog."""
        self._deletes: Batched[str, ImageRecord | None] = Batched(self.delete_many_sync)

    def spool(self) -> BinaryIO:
        """Where an upload's bytes should go while it is received and judged (see BlobStore.spool)."""
        return self.blobs.spool()

    def precheck_upload(self, source: BinaryIO | None = None) -> None:
        """Raise StorageFull or CatalogError when an upload could not be stored now, so it is
        refused before any work is done on it; cheap (no I/O beyond a few system calls)."""
        self.blobs.ensure_room(source)
        self.ensure_recordable()

    def ensure_recordable(self) -> None:
        """Raise CatalogError when the catalog would refuse a write now (a stat or two)."""
        self.catalog.ensure_writable()

    async def add(self, image: NewImage, source: BinaryIO) -> ImageRecord:
        return await to_thread.run_sync(self.add_sync, image, source)

    def add_sync(self, image: NewImage, source: BinaryIO) -> ImageRecord:
        """Store the display bytes `source`, the image's renditions and then its row: all or nothing."""
        starts = [stream.tell() for stream in self._streams(image, source)]
        stored_bytes = image.size + (len(image.thumbnail.data) if image.thumbnail else 0)
        if image.original is not None:
            stored_bytes += _remaining(image.original.source)
        for _attempt in range(3):
            record = ImageRecord(
                id=new_image_id(),
                filename=image.filename,
                content_type=image.content_type,
                size=image.size,
                width=image.width,
                height=image.height,
                created_at=datetime.now(UTC).replace(microsecond=0),
                thumbnail_type=image.thumbnail.content_type if image.thumbnail else None,
                original_type=image.original.content_type if image.original else None,
                owner_id=image.owner_id,
                stored_bytes=stored_bytes,
                delete_token_hash=image.delete_token_hash,
            )
            pending: list[PendingPut] = []
            try:
                for key, stream in self._blobs_of(record, image, source):
                    pending.append(self.blobs.put(key, stream))
                self.catalog.add(record)
            except BlobExists:  # 128 random bits colliding: astronomically rare, but cheap to handle
                self._discard(record, pending)
                for stream, start in zip(self._streams(image, source), starts, strict=True):
                    stream.seek(start)
                continue
            except BaseException:
                self._discard(record, pending)
                raise
            for put in pending:
                put.commit()
            return record
        raise StorageError("could not find a free image id")

    @staticmethod
    def _streams(image: NewImage, source: BinaryIO) -> list[BinaryIO]:
        return [source] if image.original is None else [source, image.original.source]

    @staticmethod
    def _blobs_of(record: ImageRecord, image: NewImage, source: BinaryIO) -> list[tuple[str, BinaryIO]]:
        """Each key of `record` with the bytes to store under it, in `record.keys` order."""
        blobs: list[tuple[str, BinaryIO]] = [(record.key, source)]
        if image.thumbnail is not None:
            blobs.append((record.thumbnail_key, io.BytesIO(image.thumbnail.data)))
        if image.original is not None and record.original_key is not None:
            blobs.append((record.original_key, image.original.source))
        return blobs

    @staticmethod
    def _discard(record: ImageRecord, pending: list[PendingPut]) -> None:
        """Remove every blob of a row that will never be in (newest first)."""
        for put in reversed(pending):
            try:
                put.discard()
            except StorageError:
                logger.exception("image %s: not recorded, and some of its bytes could not be removed", record.id)

    async def get(self, image_id: str) -> ImageRecord | None:
        return await to_thread.run_sync(self.catalog.get, image_id)

    async def page(self, first: int, after: str | None, owner_id: str | None = None) -> Page:
        return await to_thread.run_sync(self.catalog.page, first, after, owner_id)

    async def count(self) -> int:
        return await to_thread.run_sync(self.catalog.count)

    async def delete(self, image_id: str) -> ImageRecord | None:
        """Remove the image; None when there was none.

        Deletes arriving while others are in progress are done together (see `Batched`): the
        catalog takes writes one at a time anyway, and one transaction for many is cheaper.
        """
        return await self._deletes(image_id)

    def delete_sync(self, image_id: str) -> ImageRecord | None:
        return self.delete_many_sync([image_id])[0]

    def delete_many_sync(self, image_ids: Sequence[str]) -> list[ImageRecord | None]:
        # The records go first: from then on nobody is handed their URLs, and bytes left behind
        # by a failure here are reported by `imagehost check`, never a dangling entry.
        records = self.catalog.remove_many(image_ids)
        for image_id, record in zip(image_ids, records, strict=True):
            for key in record.keys if record is not None else ():
                try:
                    self.blobs.delete(key)
                except StorageError:
                    logger.exception("image %s: record deleted, bytes of %s left behind", image_id, key)
        return records

    def delete_owner_images(self, owner_id: str) -> int:
        """Delete every image of one account (before the account itself goes); how many."""
        deleted = 0
        while ids := self.catalog.owned_ids(owner_id):
            for start in range(0, len(ids), 100):
                deleted += sum(record is not None for record in self.delete_many_sync(ids[start:start + 100]))
        return deleted

    def remove_account(self, owner_id: str) -> int:
        """Delete an account's images, then the account (sessions and tokens with it); how many images."""
        deleted = self.delete_owner_images(owner_id)
        self.accounts.remove_user(owner_id)
        return deleted

    async def check(self) -> None:
        await to_thread.run_sync(self.check_sync)

    def check_sync(self) -> None:
        self.blobs.check()
        self.catalog.check()

    # -- crash leftovers and repair ----------------------------------------------------------

    def _is_recorded(self, image_id: str) -> bool:
        return self.catalog.get(image_id) is not None

    def _is_key_recorded(self, key: str) -> bool:
        """Whether a catalog row names `key` (a thumbnail of a row made without one is a stray)."""
        record = self.catalog.get(image_id_of(key))
        return record is not None and key in record.keys

    def sweep(self) -> SweepReport:
        """Remove what crashed uploads provably left behind; report bytes without a row."""
        work = self.blobs.sweep_work_folder(self._is_key_recorded)
        return SweepReport(work=work, unrecorded=self.unrecorded_keys())

    def unrecorded_keys(self) -> list[str]:
        """Stored bytes that no catalog row names (uploads in flight are not counted)."""
        recorded = {key for keys in self.catalog.keys().values() for key in keys}
        candidates = [key for key in self.blobs.keys() if key not in recorded]
        if not candidates:
            return []
        pending = self.blobs.pending_keys()
        # Re-check each one: an upload in another process may have committed since `keys()`.
        return sorted(key for key in candidates if key not in pending and not self._is_key_recorded(key))

    def rows_without_bytes(self) -> list[str]:
        """Ids of catalog rows whose display bytes are gone."""
        stored = set(self.blobs.keys())
        missing = [image_id for image_id, keys in self.catalog.keys().items() if keys[0] not in stored]
        # Re-check: a delete in flight removes the row first, then the bytes.
        return sorted(image_id for image_id in missing if self._is_recorded(image_id) and not self._has_bytes(image_id))

    def missing_renditions(self) -> list[str]:
        """Keys of thumbnails and originals that their row names but that are gone (the image itself is there)."""
        stored = set(self.blobs.keys())
        missing = [
            key for keys in self.catalog.keys().values() if keys[0] in stored for key in keys[1:] if key not in stored
        ]
        return sorted(key for key in missing if self._is_key_recorded(key) and not self.blobs.exists(key))

    def _has_bytes(self, image_id: str) -> bool:
        record = self.catalog.get(image_id)
        return record is not None and self.blobs.exists(record.key)

    def audit(self) -> Audit:
        """What `imagehost check` reports; changes nothing."""
        return Audit(
            rows=self.catalog.count(),
            files=len(self.blobs.keys()),
            rows_without_bytes=self.rows_without_bytes(),
            bytes_without_rows=self.unrecorded_keys(),
            missing_renditions=self.missing_renditions(),
            work=self.blobs.sweep_work_folder(self._is_key_recorded, remove=False),
        )

    def restore(self, record: ImageRecord) -> bool:
        """Add a row rebuilt from stored bytes, through the normal write path; False when any
        of its keys is gone or in flight, or it has a row by now."""
        if set(record.keys) & self.blobs.pending_keys() or self._is_recorded(record.id):
            return False
        if not all(self.blobs.exists(key) for key in record.keys):
            return False
        self.catalog.add(record)
        return True

    def forget_rendition(self, key: str) -> bool:
        """Stop naming a thumbnail or original whose bytes are gone (the image falls back to its
        display bytes); False when it has bytes, or no row names it, by now."""
        record = self.catalog.get(image_id_of(key))
        if record is None or key not in record.keys[1:] or self.blobs.exists(key):
            return False
        thumbnail_type = None if key == record.thumbnail_key else record.thumbnail_type
        original_type = None if key == record.original_key else record.original_type
        return self.catalog.set_renditions(record.id, thumbnail_type, original_type)

    def forget(self, image_id: str) -> bool:
        """Remove a row whose bytes are gone; False when it has bytes (or no row) by now."""
        if not self._is_recorded(image_id) or self._has_bytes(image_id):
            return False
        return self.catalog.remove_many([image_id])[0] is not None

    def close(self) -> None:
        self.catalog.close()
        self.blobs.close()
