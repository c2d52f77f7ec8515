"""Decoding an accepted image's first frame in full, at the smallest scale a thumbnail needs.

Only the header has been read before this step; decoding is what proves the file is whole (a
JPEG cut after 20 KB has a valid header). A JPEG is decoded with libjpeg's DCT scaling
(`draft`): every coefficient is still read, so a cut is still found, but a 12 MP photo costs a
1/4- or 1/8-scale bitmap instead of 36 MB.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import pillow_heif
from PIL import Image

from imagehost.storage import formats

# pillow-heif's Pillow plugin: HEIC/HEIF opens as format "HEIF" (formats.py's pillow_format).
pillow_heif.register_heif_opener()

ORIENTATION = 0x0112
TURNED = frozenset({5, 6, 7, 8})
"""EXIF orientations that swap width and height."""

DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
"""What Pillow's decoders raise for a cut or damaged file."""


class Undecodable(Exception):
    """The file's header was readable, its image data is not (cut short, damaged)."""


@dataclass(frozen=True, slots=True)
class Decoded:
    image: Image.Image
    """The first frame, loaded; possibly reduced (JPEG draft), not yet turned upright."""
    orientation: int
    """The EXIF orientation the stored bytes must keep (1: none)."""
    icc_profile: bytes | None


def decode_first_frame(source: BinaryIO, content_type: str, box: tuple[int, int]) -> Decoded:
    """Load the first frame whole; raise Undecodable when its data is cut or broken."""
    image_format = formats.BY_CONTENT_TYPE[content_type]
    source.seek(0)
    try:
        image = Image.open(source, formats=[image_format.pillow_format])
        # libheif turns a HEIC upright itself (irot/imir); elsewhere the EXIF tag says how.
        orientation = 1 if image_format.pillow_format == "HEIF" else image.getexif().get(ORIENTATION, 1)
        if image.format == "JPEG":
            image.draft(None, box)
        image.load()
    except DECODE_ERRORS as error:
        raise Undecodable(str(error)) from error
    return Decoded(image, orientation if orientation in range(1, 9) else 1, image.info.get("icc_profile"))


def upright_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    return (height, width) if orientation in TURNED else (width, height)
