"""The images query, the image query and deleteImage."""

from __future__ import annotations

import logging

from imagehost.resolvers.context import Context
from imagehost.storage import ImageRecord, InvalidCursor, Page

logger = logging.getLogger("imagehost.catalog")

MAX_PAGE_SIZE = 100


class InvalidArgument(ValueError):
    """An argument out of its documented range; the message says what would be valid."""


async def list_images(context: Context, first: int, after: str | None) -> Page:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    try:
        return await context.images.page(first, after)
    except InvalidCursor as error:
        raise InvalidArgument(str(error)) from error


async def get_image(context: Context, image_id: str) -> ImageRecord | None:
    return await context.images.get(image_id)


async def delete_image(context: Context, image_id: str) -> ImageRecord | None:
    record = await context.images.delete(image_id)
    if record is None:
        logger.info("delete missing client=%s id=%s", context.client, image_id)
    else:
        logger.info(
            "delete done client=%s id=%s filename=%r bytes=%d",
            context.client, record.id, record.filename, record.size,
        )
    return record
