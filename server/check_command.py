"""`imagehost check [--repair]`: compare the catalog with the stored bytes, and mend what can be.

It reports rows without bytes, bytes without rows and what crashed uploads left behind. With
`--repair` it removes the provable leftovers, rebuilds a row for each stored image from its
bytes (type, size and dimensions read by Pillow; the original name is lost, so the row is named
`recovered-<id>.<ext>`, with the thumbnail and original found beside them), removes rows whose
bytes are gone, and makes rows stop naming a thumbnail or original that is gone. It goes through the store's
normal write path, so it may run while the server does; on a missing catalog it makes a new
one. This module also words the start-up refusal that points here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from imagehost.resolvers.limits import UploadLimits
from imagehost.resolvers.validation import Rejection, inspect_image
from imagehost.settings import Settings
from imagehost.storage import (
    Audit,
    CatalogError,
    CatalogMissing,
    CatalogReplaced,
    ImageRecord,
    ImageStore,
    StorageError,
    catalog_path,
    open_image_store,
)
from imagehost.storage.keys import content_type_of, image_id_of, is_display, is_original, is_thumbnail

RECOVERED_PREFIX = "recovered-"
SHOWN = 10
"""Keys listed per kind of problem; the counts are always complete."""


def catalog_refusal(error: CatalogMissing | CatalogReplaced, images_dir: Path) -> str:
    """The one line start-up prints when the catalog is not the images' own, naming the way out."""
    repair = "or run `imagehost check --repair`"
    if isinstance(error, CatalogMissing):
        return (
            f"{images_dir} holds {error.image_count} images but its catalog {error.path} is missing: "
            f"restore it from a backup, {repair} to rebuild the rows from the bytes (the original file names are lost)"
        )
    return (
        f"the catalog {error.path} is not the one the images in {images_dir} were stored with "
        f"(its identity is {error.found or 'missing'}, {error.path.with_suffix('.id').name} says {error.expected}): "
        f"put the right catalog back, {repair} to adopt this one and reconcile it with the bytes"
    )


def run_check(settings: Settings, repair: bool, out: TextIO = sys.stdout) -> int:
    """0 when clean (or repaired), 1 when problems remain."""
    images_dir = settings.images_dir
    try:
        store = open_image_store(images_dir, repair=repair)
    except (CatalogMissing, CatalogReplaced) as error:
        print(f"imagehost check: {catalog_refusal(error, images_dir)}", file=out)
        return 1
    except StorageError as error:
        print(f"imagehost check: cannot open the storage in {images_dir}: {error}", file=out)
        return 1
    try:
        print(f"imagehost check: {images_dir} (catalog {catalog_path(images_dir)}, identity {store.catalog.identity})", file=out)
        audit = store.audit()
        _report(audit, out)
        if audit.clean:
            print("clean: every row has its bytes and every stored image its row", file=out)
            return 0
        if not repair:
            print("problems found: `imagehost check --repair` fixes what can be fixed", file=out)
            return 1
        return _repair(store, settings, out)
    except CatalogError as error:
        print(f"imagehost check: the catalog failed: {error}", file=out)
        return 1
    finally:
        store.close()


def _report(audit: Audit, out: TextIO) -> None:
    work = audit.work
    lines = [
        f"  catalog rows:                 {audit.rows}",
        f"  stored image files:           {audit.files}",
        f"  rows without bytes:           {len(audit.rows_without_bytes)}{_some(audit.rows_without_bytes)}",
        f"  bytes without rows:           {len(audit.bytes_without_rows)}{_some(audit.bytes_without_rows)}",
        f"  renditions gone:              {len(audit.missing_renditions)}{_some(audit.missing_renditions)}",
        f"  uploads that never committed: {len(work.uncommitted)}{_some(work.uncommitted)}",
        f"  partial or stale temp files:  {work.partial_files + work.committed_markers + len(work.mismatched)}",
        f"  uploads in flight now:        {work.in_flight} (left alone)",
    ]
    print("\n".join(lines), file=out)


def _some(items: list[str]) -> str:
    if not items:
        return ""
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"  ({', '.join(items[:SHOWN])}{more})"


def _repair(store: ImageStore, settings: Settings, out: TextIO) -> int:
    sweep = store.sweep()
    swept = sweep.work
    rebuilt, unreadable = 0, []
    strays = set(sweep.unrecorded)
    for key in sorted(filter(is_display, strays)):
        record = _rebuilt_record(store, key, settings, strays)
        if record is None:
            unreadable.append(key)
        elif store.restore(record):
            rebuilt += 1
            strays -= set(record.keys)
    # A thumbnail or original whose image has no bytes, or whose row does not name it: no row can
    # be made from it here, and nothing proves it unwanted.
    orphans = sorted(key for key in strays if not is_display(key))
    forgotten = sum(store.forget(image_id) for image_id in store.rows_without_bytes())
    renditions = sum(store.forget_rendition(key) for key in store.missing_renditions())
    print(
        f"repaired: {rebuilt} rows rebuilt from the bytes (named {RECOVERED_PREFIX}<id>.<ext>), "
        f"{forgotten} rows without bytes removed, {renditions} rows no longer naming a rendition that is gone, "
        f"{len(swept.uncommitted)} uploads that never committed "
        f"and {swept.leftovers - len(swept.uncommitted)} temp files removed",
        file=out,
    )
    if unreadable:
        print(f"left alone: {len(unreadable)} files that cannot be read as the image their name says{_some(unreadable)}", file=out)
    if orphans:
        print(f"left alone: {len(orphans)} thumbnails or originals without their image's row{_some(orphans)}", file=out)
    return 1 if unreadable or orphans else 0


def _rebuilt_record(store: ImageStore, key: str, settings: Settings, strays: set[str]) -> ImageRecord | None:
    """A row for stored display bytes, from what Pillow reads in them, naming the thumbnail and
    original among `strays` that are this image's; None if the bytes are not the image their key says."""
    image_id = image_id_of(key)
    try:
        with store.blobs.open(key) as source:
            size = source.seek(0, 2)
            # The bytes were accepted once: judge them as images, not against today's size limit.
            limits = UploadLimits(max(size, 1), settings.max_pixels, 1)
            facts = inspect_image(source, size, key, limits)
        created_at = store.blobs.modified_at(key).replace(microsecond=0)
    except StorageError:
        return None
    if isinstance(facts, Rejection) or facts.content_type != content_type_of(key):
        return None
    beside = [stray for stray in strays if image_id_of(stray) == image_id]
    return ImageRecord(
        id=image_id,
        filename=f"{RECOVERED_PREFIX}{key}",
        content_type=facts.content_type,
        size=size,
        width=facts.width,
        height=facts.height,
        created_at=created_at,
        thumbnail_type=next((content_type_of(stray) for stray in beside if is_thumbnail(stray)), None),
        original_type=next((content_type_of(stray) for stray in beside if is_original(stray)), None),
    )
