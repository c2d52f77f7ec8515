"""Judging an upload by its bytes: signature first, then structure budgets, then Pillow reads
the header.

Nothing here decodes pixel data, so a decompression bomb costs a header read, not memory.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from imagehost.resolvers.gif_structure import scan_gif
from imagehost.resolvers.jpeg_structure import scan_jpeg
from imagehost.resolvers.limits import UploadLimits, human_size
from imagehost.resolvers.png_structure import scan_png
from imagehost.resolvers.structure_budget import FileView, OverBudget
from imagehost.resolvers.webp_structure import scan_webp
from imagehost.storage import formats

logger = logging.getLogger("imagehost.uploads")

ACCEPTED_NAMES = formats.accepted_names()

# What Pillow calls each format we accept, by the type its signature says.
PILLOW_FORMATS = {image_format.content_type: image_format.pillow_format for image_format in formats.FORMATS}

# What counts each format's pieces against the structure budgets before Pillow parses it. AVIF
# and HEIC have none: libavif / libheif (C) parse their boxes, and Pillow's Python code never
# walks them piece by piece.
STRUCTURE_SCANNERS: dict[str, Callable[[FileView], None]] = {
    "image/jpeg": scan_jpeg,
    "image/png": scan_png,
    "image/gif": scan_gif,
    "image/webp": scan_webp,
}


class RejectionCode(enum.Enum):
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    STORAGE_FULL = "STORAGE_FULL"
    RATE_LIMITED = "RATE_LIMITED"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    TOO_LARGE = "TOO_LARGE"
    INVALID_IMAGE = "INVALID_IMAGE"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"


@dataclass(frozen=True, slots=True)
class Rejection:
    code: RejectionCode
    message: str
    filename: str | None


@dataclass(frozen=True, slots=True)
class ImageFacts:
    content_type: str
    width: int
    height: int


def sniff_content_type(head: bytes) -> str | None:
    """The accepted type whose signature `head` (formats.SIGNATURE_BYTES long) carries, if any."""
    image_format = formats.sniff(head)
    return image_format.content_type if image_format is not None else None


def inspect_image(source: BinaryIO, size: int, name: str, limits: UploadLimits) -> ImageFacts | Rejection:
    """Facts about an accepted image, or why it is refused. `name` is only for messages."""

    def refuse(code: RejectionCode, message: str) -> Rejection:
        return Rejection(code, message, name)

    if size > limits.max_upload_bytes:
        return refuse(
            RejectionCode.TOO_LARGE,
            f"{name} is larger than the {human_size(limits.max_upload_bytes)} limit: "
            "send a smaller or more compressed file",
        )
    if size == 0:
        return refuse(RejectionCode.INVALID_IMAGE, f"{name} is empty")
    source.seek(0)
    content_type = sniff_content_type(source.read(formats.SIGNATURE_BYTES))
    if content_type is None:
        return refuse(RejectionCode.UNSUPPORTED_TYPE, f"{name} is not an image: use {ACCEPTED_NAMES}")
    over_budget = structure_over_budget(source, size, content_type)
    if over_budget is not None:
        logger.info("%s: %s structure over budget: %s", name, content_type, over_budget)
        return refuse(
            RejectionCode.INVALID_IMAGE,
            f"{name} has an unusual structure ({over_budget}) and was refused: "
            "save it again with an image editor",
        )
    source.seek(0)
    kind = PILLOW_FORMATS[content_type]
    try:
        with Image.open(source, formats=[kind]) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                return _too_many_pixels(name, width, height, limits)
            if width < 1 or height < 1:
                return refuse(RejectionCode.INVALID_IMAGE, f"{name} has no pixels")
            image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return refuse(
            RejectionCode.TOO_MANY_PIXELS,
            f"{name} has more than {limits.max_pixels:,} pixels: send a smaller image",
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        logger.info("%s: %s header unreadable: %s", name, kind, error)
        return refuse(
            RejectionCode.INVALID_IMAGE,
            f"{name} looks like {kind} but cannot be read as one: it may be damaged or cut short",
        )
    return ImageFacts(content_type, width, height)


def structure_over_budget(source: BinaryIO, size: int, content_type: str) -> str | None:
    """Which structure budget the file exceeds (a phrase for a message), or None.

    Runs before Pillow, whose parsers walk a file piece by piece in Python: this bounds what
    validating one file costs, whatever it is made of.
    """
    scanner = STRUCTURE_SCANNERS.get(content_type)
    if scanner is None:
        return None
    try:
        scanner(FileView(source, size))
    except OverBudget as over:
        return over.reason
    return None


def _too_many_pixels(name: str, width: int, height: int, limits: UploadLimits) -> Rejection:
    return Rejection(
        RejectionCode.TOO_MANY_PIXELS,
        f"{name} is {width} x {height} pixels, more than the {limits.max_pixels:,} allowed: "
        "send a smaller image",
        name,
    )
