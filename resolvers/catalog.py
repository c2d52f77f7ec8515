"""The images query, the image query and deleteImage."""

from __future__ import annotations

import logging

from imagehost.resolvers.accounts import NotAllowed
from imagehost.resolvers.context import Context
from imagehost.resolvers.secret_hashes import matches
from imagehost.storage import ImageRecord, InvalidCursor, Page

logger = logging.getLogger("imagehost.catalog")

MAX_PAGE_SIZE = 100


class InvalidArgument(ValueError):
    """An argument out of its documented range; the message says what would be valid."""


async def list_images(context: Context, first: int, after: str | None, everyone: bool = False) -> Page:
    """The viewer's images; with `everyone` (admins), all of them, anonymous uploads included."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    viewer = context.viewer
    if viewer is None:
        raise NotAllowed("Sign in first", "UNAUTHENTICATED")
    if everyone and not viewer.is_admin:
        raise NotAllowed("Only admins may list everyone's images (all: true)")
    try:
        return await context.images.page(first, after, None if everyone else viewer.id)
    except InvalidCursor as error:
        raise InvalidArgument(str(error)) from error


def may_see(context: Context, record: ImageRecord) -> bool:
    """Owners and admins see an image; to anyone else it does not exist."""
    viewer = context.viewer
    return viewer is not None and (viewer.is_admin or record.owner_id == viewer.id)


async def get_image(context: Context, image_id: str) -> ImageRecord | None:
    if context.viewer is None:
        return None
    record = await context.images.get(image_id)
    return record if record is not None and may_see(context, record) else None


async def delete_image(context: Context, image_id: str, delete_token: str | None = None) -> ImageRecord | None:
    """Delete for its owner, an admin, or the holder of its delete token; None (as for an image
    that is not there) for anyone else, so existence is not leaked."""
    found = await context.images.get(image_id)
    allowed = found is not None and (
        may_see(context, found) or (delete_token is not None and matches(delete_token, found.delete_token_hash))
    )
    record = await context.images.delete(image_id) if allowed else None
    if record is None:
        logger.info("delete missing client=%s user=%s id=%s", context.client, context.who, image_id)
    else:
        logger.info(
            "delete done client=%s user=%s id=%s filename=%r bytes=%d",
            context.client, context.who, record.id, record.filename, record.size,
        )
    return record
