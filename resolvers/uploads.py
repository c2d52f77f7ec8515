"""uploadImage / uploadImages: run each file through the pipeline, then store every key of it."""

from __future__ import annotations

import logging
import time
from typing import BinaryIO, Protocol

from anyio import to_thread

from imagehost.resolvers.context import Context
from imagehost.resolvers.filenames import clean_filename
from imagehost.resolvers.pipeline import prepare
from imagehost.resolvers.validation import Rejection, RejectionCode
from imagehost.storage import EXTENSIONS, ImageRecord, NewImage, Original, StorageFull

logger = logging.getLogger("imagehost.uploads")


class UploadedFile(Protocol):
    """The part of Starlette's UploadFile that uploads need (kept abstract for tests)."""

    filename: str | None
    file: BinaryIO
    size: int | None


async def upload_image(context: Context, upload: UploadedFile | str) -> ImageRecord | Rejection:
    started = time.perf_counter()
    result = await _store(context, upload)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if isinstance(result, Rejection):
        logger.info(
            "upload refused client=%s code=%s filename=%r duration_ms=%.1f",
            context.client, result.code.value, result.filename, elapsed_ms,
        )
    else:
        logger.info(
            "upload stored client=%s id=%s filename=%r type=%s bytes=%d size=%dx%d duration_ms=%.1f",
            context.client, result.id, result.filename, result.content_type, result.size,
            result.width, result.height, elapsed_ms,
        )
    return result


async def upload_images(context: Context, uploads: list[UploadedFile | str]) -> list[ImageRecord | Rejection]:
    # A catalog that can record nothing refuses the request before its first file is stored
    # (a stat, cheap enough for the event loop), not halfway through the list.
    context.images.ensure_recordable()
    # One at a time: the files are already on disk, and storing them in order keeps the
    # catalog's order the order the client gave.
    return [await upload_image(context, upload) for upload in uploads]


async def _store(context: Context, upload: UploadedFile | str) -> ImageRecord | Rejection:
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


def _validate_and_store(context: Context, upload: UploadedFile, size: int) -> ImageRecord | Rejection:
    # Before a byte is judged or stored: no room (below the free-space floor, or the spool ran out
    # of it) is this file's STORAGE_FULL; a catalog that cannot record it raises a CatalogError,
    # which reaches the client as a GraphQL error with the code STORAGE_UNAVAILABLE.
    try:
        context.images.precheck_upload(upload.file)
    except StorageFull:
        return _no_room(upload)
    prepared = prepare(upload.file, size, upload.filename or "the file", context.limits, context.images.spool)
    if isinstance(prepared, Rejection):
        return Rejection(prepared.code, prepared.message, upload.filename)
    facts = prepared.facts
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
    )
    try:
        return context.images.add_sync(new_image, prepared.display)
    except StorageFull:  # the disk filled while the bytes or the row were written: nothing was kept
        return _no_room(upload)
    finally:
        if prepared.display is not upload.file:
            prepared.display.close()  # a spool of changed bytes: stored by now, or not at all
        if prepared.original is not None and prepared.original is not upload.file:
            prepared.original.close()


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
