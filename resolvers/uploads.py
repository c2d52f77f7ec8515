"""uploadImage / uploadImages: run each file through the pipeline, then store every key of it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from anyio import to_thread

from imagehost.resolvers.context import Context
from imagehost.resolvers.filenames import clean_filename
from imagehost.resolvers.pipeline import prepare
from imagehost.resolvers.validation import Rejection, RejectionCode
from imagehost.resolvers.limits import human_size
from imagehost.resolvers.secret_hashes import new_secret, secret_hash
from imagehost.storage import EXTENSIONS, ImageRecord, NewImage, Original, QuotaExceeded, StorageFull

logger = logging.getLogger("imagehost.uploads")


PUBLIC_UPLOAD_WINDOW_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Stored:
    record: ImageRecord
    delete_token: str | None = None
    """An anonymous upload's delete token: in this answer only (the catalog keeps its hash)."""


class UploadedFile(Protocol):
    """The part of Starlette's UploadFile that uploads need (kept abstract for tests)."""

    filename: str | None
    file: BinaryIO
    size: int | None


async def upload_image(context: Context, upload: UploadedFile | str) -> Stored | Rejection:
    started = time.perf_counter()
    result = await _store(context, upload)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if isinstance(result, Rejection):
        logger.info(
            "upload refused client=%s user=%s code=%s filename=%r duration_ms=%.1f",
            context.client, context.who, result.code.value, result.filename, elapsed_ms,
        )
    else:
        record = result.record
        logger.info(
            "upload stored client=%s user=%s id=%s filename=%r type=%s bytes=%d size=%dx%d duration_ms=%.1f",
            context.client, context.who, record.id, record.filename, record.content_type, record.size,
            record.width, record.height, elapsed_ms,
        )
    return result


async def upload_images(context: Context, uploads: list[UploadedFile | str]) -> list[Stored | Rejection]:
    # A catalog that can record nothing refuses the request before its first file is stored
    # (a stat, cheap enough for the event loop), not halfway through the list.
    context.images.ensure_recordable()
    # One at a time: the files are already on disk, and storing them in order keeps the
    # catalog's order the order the client gave.
    return [await upload_image(context, upload) for upload in uploads]


async def _store(context: Context, upload: UploadedFile | str) -> Stored | Rejection:
    if isinstance(upload, str):
        # Every multipart file part arrives as a file (with or without `filename=`); text here
        # means the variable was given a value in `operations` instead of a file through `map`.
        return Rejection(
            RejectionCode.INVALID_IMAGE,
            "the upload is text, not a file: send the file as a multipart part mapped onto the variable",
            None,
        )
    size = upload.size if upload.size is not None else _measure(upload.file)
    # The pipeline and storing are blocking work: one trip to a worker thread for both.
    return await to_thread.run_sync(_validate_and_store, context, upload, size)


def _validate_and_store(context: Context, upload: UploadedFile, size: int) -> Stored | Rejection:
    # Before a byte is judged or stored: no room (below the free-space floor, or the spool ran out
    # of it) is this file's STORAGE_FULL; a catalog that cannot record it raises a CatalogError,
    # which reaches the client as a GraphQL error with the code STORAGE_UNAVAILABLE.
    try:
        context.images.precheck_upload(upload.file)
    except StorageFull:
        return _no_room(upload)
    if context.viewer is None and not _within_public_limit(context):
        return Rejection(
            RejectionCode.RATE_LIMITED,
            f"{upload.filename or 'the file'} was not stored: this address may upload "
            f"{context.limits.public_uploads_per_hour} images an hour without an account; try again later or sign in",
            upload.filename,
        )
    prepared = prepare(upload.file, size, upload.filename or "the file", context.limits, context.images.spool)
    if isinstance(prepared, Rejection):
        return Rejection(prepared.code, prepared.message, upload.filename)
    facts = prepared.facts
    delete_token = new_secret() if context.viewer is None else None
    new_image = NewImage(
        filename=clean_filename(upload.filename, EXTENSIONS[facts.content_type]),
        content_type=facts.content_type,
        size=prepared.display_size,
        width=facts.width,
        height=facts.height,
        thumbnail=prepared.thumbnail,
        original=Original(prepared.original, prepared.original_type)
        if prepared.original is not None and prepared.original_type is not None
        else None,
        owner_id=context.viewer.id if context.viewer else None,
        delete_token_hash=secret_hash(delete_token) if delete_token else None,
    )
    try:
        return Stored(context.images.add_sync(new_image, prepared.display), delete_token)
    except StorageFull:  # the disk filled while the bytes or the row were written: nothing was kept
        return _no_room(upload)
    except QuotaExceeded as error:
        return Rejection(
            RejectionCode.QUOTA_EXCEEDED,
            f"{upload.filename or 'the file'} was not stored: it needs {human_size(error.wanted_bytes)} and your "
            f"quota of {human_size(error.quota_bytes)} has {human_size(max(0, error.quota_bytes - error.stored_bytes))} left",
            upload.filename,
        )
    finally:
        if prepared.display is not upload.file:
            prepared.display.close()  # a spool of changed bytes: stored by now, or not at all
        if prepared.original is not None and prepared.original is not upload.file:
            prepared.original.close()


def _within_public_limit(context: Context) -> bool:
    """Count one anonymous upload of this address (across workers); False when over the hour's limit."""
    counted = context.images.accounts.count_attempt(
        "upload:address", context.client, time.time(),
        limit=context.limits.public_uploads_per_hour, window=PUBLIC_UPLOAD_WINDOW_SECONDS,
    )
    return counted is not None


def _no_room(upload: UploadedFile) -> Rejection:
    return Rejection(
        RejectionCode.STORAGE_FULL,
        f"{upload.filename or 'the file'} was not stored: the server's storage is full; try again later",
        upload.filename,
    )


def _measure(file: BinaryIO) -> int:
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return size
