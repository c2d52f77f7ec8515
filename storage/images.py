"""`ImageStore`: the bytes and their catalog entry appear together or not at all."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from anyio import to_thread

from imagehost.storage.batching import Batched
from imagehost.storage.errors import BlobExists, StorageError
from imagehost.storage.protocols import BlobStore, Catalog
from imagehost.storage.records import ImageRecord, NewImage, Page

logger = logging.getLogger("imagehost.storage")

ORPHAN_GRACE_SECONDS = 3600.0


def new_image_id() -> str:
    """22 URL-safe characters, 128 random bits: unguessable, and never derived from user input."""
    return secrets.token_urlsafe(16)


class ImageStore:
    """Writes bytes first and the record second, and undoes the bytes if the record fails.

    A reader therefore never sees a record without bytes. A crash between the two steps can
    leave bytes without a record; `sweep` removes those once they are older than any upload
    in flight could be.
    """

    def __init__(self, blobs: BlobStore, catalog: Catalog) -> None:
        self.blobs = blobs
        self.catalog = catalog
        self._deletes: Batched[str, ImageRecord | None] = Batched(self.delete_many_sync)

    def spool(self) -> BinaryIO:
        """Where an upload's bytes should go while it is received and judged (see BlobStore.spool)."""
        return self.blobs.spool()

    async def add(self, image: NewImage, source: BinaryIO) -> ImageRecord:
        return await to_thread.run_sync(self.add_sync, image, source)

    def add_sync(self, image: NewImage, source: BinaryIO) -> ImageRecord:
        for _attempt in range(3):
            record = ImageRecord(
                id=new_image_id(),
                filename=image.filename,
                content_type=image.content_type,
                size=image.size,
                width=image.width,
                height=image.height,
                created_at=datetime.now(UTC).replace(microsecond=0),
            )
            try:
                self.blobs.put(record.key, source)
            except BlobExists:  # 128 random bits colliding: astronomically rare, but cheap to handle
                source.seek(0)
                continue
            try:
                self.catalog.add(record)
            except BaseException:
                self.blobs.delete(record.key)
                raise
            return record
        raise StorageError("could not find a free image id")

    async def get(self, image_id: str) -> ImageRecord | None:
        return await to_thread.run_sync(self.catalog.get, image_id)

    async def page(self, first: int, after: str | None) -> Page:
        return await to_thread.run_sync(self.catalog.page, first, after)

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
        # by a failure here are an orphan that `sweep` removes, never a dangling entry.
        records = self.catalog.remove_many(image_ids)
        for image_id, record in zip(image_ids, records, strict=True):
            if record is not None:
                try:
                    self.blobs.delete(record.key)
                except StorageError:
                    logger.exception("image %s: record deleted, bytes left for the sweep", image_id)
        return records

    async def check(self) -> None:
        await to_thread.run_sync(self.check_sync)

    def check_sync(self) -> None:
        self.blobs.check()
        self.catalog.check()

    def sweep(self, grace_seconds: float = ORPHAN_GRACE_SECONDS) -> int:
        """Remove what a crash left (bytes with no entry, partial writes) older than `grace_seconds`."""
        known = self.catalog.ids()
        removed = 0
        for key in self.blobs.keys():
            image_id = key.split(".", 1)[0]
            if image_id in known:
                continue
            # Re-check the record: an upload in another process may have committed since `ids()`.
            if self.blobs.age_seconds(key) > grace_seconds and self.catalog.get(image_id) is None:
                removed += int(self.blobs.delete(key))
        return removed + self.blobs.sweep_partial(grace_seconds)

    def close(self) -> None:
        self.catalog.close()
