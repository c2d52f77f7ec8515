"""The upload pipeline: inspect -> decode fully -> transform -> render the thumbnail.

Its result (`Prepared`) is everything storage writes for one image; nothing is stored here, so
a step that fails leaves nothing behind. It runs in the worker thread the upload already uses;
`DECODES` bounds how many run at once in the process, which bounds memory (each holds one
decoded frame) and keeps CPU for the event loop.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from imagehost.resolvers.decoding import Decoded, Undecodable, decode_first_frame, upright_size
from imagehost.resolvers.limits import UploadLimits
from imagehost.resolvers.metadata import Damaged, can_strip, strip, write_pieces
from imagehost.resolvers.thumbnails import THUMBNAIL_BOX, render_thumbnail
from imagehost.resolvers.validation import ImageFacts, Rejection, RejectionCode, inspect_image
from imagehost.storage import Thumbnail, formats

logger = logging.getLogger("imagehost.uploads")

DECODES = threading.BoundedSemaphore(os.cpu_count() or 1)
"""Decodes running at once in this process: one per CPU; more would only queue for it."""

DISPLAY_JPEG_QUALITY = 90


@dataclass(frozen=True, slots=True)
class Prepared:
    """One image ready to store: the display bytes and their facts, the renditions."""

    facts: ImageFacts
    """The display bytes' type and upright width/height."""
    display: BinaryIO
    """The bytes `url` serves, at position 0 (the upload itself when nothing was changed)."""
    display_size: int
    thumbnail: Thumbnail
    """JPEG for an opaque image, WebP for one with transparency (resolvers.thumbnails)."""
    original: BinaryIO | None = None
    """Kept beside the display bytes when browsers cannot show it (HEIC), at position 0; like
    `display`, the upload itself or a spool of it without metadata."""
    original_type: str | None = None


def prepare(
    source: BinaryIO, size: int, name: str, limits: UploadLimits, spool: Callable[[], BinaryIO]
) -> Prepared | Rejection:
    """Judge, decode and transform one upload; `spool` makes the files changed bytes go to
    (the caller closes `display` when it is not `source`)."""
    facts = inspect_image(source, size, name, limits)
    if isinstance(facts, Rejection):
        return facts
    with DECODES:
        try:
            decoded = decode_first_frame(source, facts.content_type, THUMBNAIL_BOX)
        except Undecodable as error:
            return _damaged(name, facts.content_type, error)
        with decoded.image:
            try:
                return _transform(source, size, facts, decoded, limits, spool)
            except Damaged as error:
                return _damaged(name, facts.content_type, error)


def _transform(
    source: BinaryIO, size: int, facts: ImageFacts, decoded: Decoded, limits: UploadLimits,
    spool: Callable[[], BinaryIO],
) -> Prepared:
    thumbnail = render_thumbnail(decoded.image, decoded.orientation, decoded.icc_profile)
    width, height = upright_size(facts.width, facts.height, decoded.orientation)
    if not formats.BY_CONTENT_TYPE[facts.content_type].browser_displayable:
        original, _ = _without_metadata(source, size, facts.content_type, decoded.orientation, limits, spool)
        try:
            display, display_size = _display_jpeg(decoded, spool)
        except BaseException:
            if original is not source:
                original.close()
            raise
        return Prepared(
            ImageFacts("image/jpeg", width, height), display, display_size, thumbnail,
            original=original, original_type=facts.content_type,
        )
    upright = ImageFacts(facts.content_type, width, height)
    display, display_size = _without_metadata(source, size, facts.content_type, decoded.orientation, limits, spool)
    return Prepared(upright, display, display_size, thumbnail)


def _without_metadata(
    source: BinaryIO, size: int, content_type: str, orientation: int, limits: UploadLimits,
    spool: Callable[[], BinaryIO],
) -> tuple[BinaryIO, int]:
    """The bytes to store, at position 0: `source` itself when nothing is removed, else a spool."""
    # The walk always runs: it also finds later frames or chunks cut short, which decoding the
    # first frame does not read.
    pieces = strip(content_type, source, size, orientation) if can_strip(content_type) else None
    if pieces is None or limits.keep_metadata:
        source.seek(0)
        return source, size
    target = spool()
    try:
        written = write_pieces(pieces, source, target)
        target.seek(0)
    except BaseException:
        target.close()
        raise
    return target, written


def _display_jpeg(decoded: Decoded, spool: Callable[[], BinaryIO]) -> tuple[BinaryIO, int]:
    """A JPEG browsers show, of an image they cannot (HEIC): upright (libheif turned it), ICC kept."""
    image = decoded.image if decoded.image.mode == "RGB" else decoded.image.convert("RGB")
    target = spool()
    try:
        options = {"icc_profile": decoded.icc_profile} if decoded.icc_profile else {}
        image.save(target, "JPEG", quality=DISPLAY_JPEG_QUALITY, **options)
        size = target.tell()
        target.seek(0)
    except BaseException:
        target.close()
        raise
    return target, size


def _damaged(name: str, content_type: str, error: Exception) -> Rejection:
    kind = formats.BY_CONTENT_TYPE[content_type].name
    logger.info("%s: %s data unreadable: %s", name, kind, error)
    return Rejection(
        RejectionCode.INVALID_IMAGE,
        f"{name} looks like {kind} but cannot be read as one: it may be damaged or cut short",
        name,
    )

