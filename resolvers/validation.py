"""Judging an upload by its bytes: signature first, then Pillow reads the header.

Nothing here decodes pixel data, so a decompression bomb costs a header read, not memory.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from imagehost.resolvers.limits import UploadLimits, human_size

logger = logging.getLogger("imagehost.uploads")

ACCEPTED_NAMES = "JPEG, PNG, GIF or WebP"

# What Pillow calls each format we accept, by the type its signature says.
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


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
    """The accepted type whose signature `head` starts with, if any."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


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
    content_type = sniff_content_type(source.read(16))
    if content_type is None:
        return refuse(RejectionCode.UNSUPPORTED_TYPE, f"{name} is not an image: use {ACCEPTED_NAMES}")
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


def _too_many_pixels(name: str, width: int, height: int, limits: UploadLimits) -> Rejection:
    return Rejection(
        RejectionCode.TOO_MANY_PIXELS,
        f"{name} is {width} x {height} pixels, more than the {limits.max_pixels:,} allowed: "
        "send a smaller image",
        name,
    )
