"""uploadImage / uploadImages: validate each file by its bytes, then store it."""

from __future__ import annotations

import logging
import time
from typing import BinaryIO, Protocol

from anyio import to_thread

from imagehost.resolvers.context import Context
from imagehost.resolvers.filenames import clean_filename
from imagehost.resolvers.validation import Rejection, RejectionCode, inspect_image
from imagehost.storage import EXTENSIONS, ImageRecord, NewImage

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
    # One at a time: the files are already on disk, and storing them in order keeps the
    # catalog's order the order the client gave.
    return [await upload_image(context, upload) for upload in uploads]


async def _store(context: Context, upload: UploadedFile | str) -> ImageRecord | Rejection:
    if isinstance(upload, str):
        # A multipart part sent without `filename=` arrives as text, not as a file.
        return Rejection(
            RejectionCode.INVALID_IMAGE,
            "the upload arrived as a text field, not a file: send it as a file part with a filename",
            None,
        )
    size = upload.size if upload.size is not None else _measure(upload.file)
    # Validation and storing are blocking file work: one trip to a worker thread for both.
    return await to_thread.run_sync(_validate_and_store, context, upload, size)


def _validate_and_store(context: Context, upload: UploadedFile, size: int) -> ImageRecord | Rejection:
    facts = inspect_image(upload.file, size, upload.filename or "the file", context.limits)
    if isinstance(facts, Rejection):
        return Rejection(facts.code, facts.message, upload.filename)
    new_image = NewImage(
        filename=clean_filename(upload.filename, EXTENSIONS[facts.content_type]),
        content_type=facts.content_type,
        size=size,
        width=facts.width,
        height=facts.height,
    )
    # The same file may be mapped into two variables; always copy from its start.
    upload.file.seek(0)
    return context.images.add_sync(new_image, upload.file)


def _measure(file: BinaryIO) -> int:
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return size
