"""The one registry of image formats Imagehost takes: type, extension, signature, decoder, name.

Everything that needs to know the formats reads this table: the validator (signatures, which
Pillow plugin decodes it), the key scheme (extensions), the image server and Nginx (extension ->
Content-Type), and the UI through the API (accepted types). It is plain data, so the lowest
layer (storage) can hold it and every layer above can read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageFormat:
    content_type: str
    extension: str
    """The file extension of stored bytes of this type (also in the image's URL)."""
    name: str
    """How people call it, in messages: 'JPEG', 'HEIC' ..."""
    pillow_format: str
    """The Pillow plugin that decodes it (`Image.open(..., formats=[pillow_format])`)."""
    browser_displayable: bool
    """Whether browsers show it as it is; otherwise a displayable rendition is stored beside it."""
    matches: Callable[[bytes], bool]
    """True when the first bytes of a file (at least SIGNATURE_BYTES) are this format's."""


SIGNATURE_BYTES = 32
"""How many leading bytes `sniff` needs to tell every format apart."""

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO-BMFF `ftyp` box at the start of `head`."""
    if head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[:4], "big")
    end = min(size, len(head)) if size >= 16 else 0
    brands = {head[8:12]}
    brands.update(head[offset:offset + 4] for offset in range(16, end - 3, 4))
    return brands


def _is_avif(head: bytes) -> bool:
    return bool(_ftyp_brands(head) & _AVIF_BRANDS)


def _is_heif(head: bytes) -> bool:
    brands = _ftyp_brands(head)
    # `mif1` alone is any HEIF image (AVIF ones too): HEVC-coded ones name a HEVC brand as well.
    return bool(brands & _HEIF_BRANDS) and not brands & _AVIF_BRANDS


FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat("image/jpeg", "jpg", "JPEG", "JPEG", True, lambda head: head.startswith(b"\xff\xd8\xff")),
    ImageFormat("image/png", "png", "PNG", "PNG", True, lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ImageFormat("image/gif", "gif", "GIF", "GIF", True, lambda head: head.startswith((b"GIF87a", b"GIF89a"))),
    ImageFormat("image/webp", "webp", "WebP", "WEBP", True, lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    ImageFormat("image/avif", "avif", "AVIF", "AVIF", True, _is_avif),
    ImageFormat("image/heic", "heic", "HEIC", "HEIF", False, _is_heif),
)

BY_CONTENT_TYPE = {image_format.content_type: image_format for image_format in FORMATS}
BY_EXTENSION = {image_format.extension: image_format for image_format in FORMATS}
ACCEPTED_TYPES = tuple(image_format.content_type for image_format in FORMATS)


def sniff(head: bytes) -> ImageFormat | None:
    """The format whose signature `head` (the first SIGNATURE_BYTES of a file) carries, if any."""
    return next((image_format for image_format in FORMATS if image_format.matches(head)), None)


def accepted_names() -> str:
    """'JPEG, PNG, GIF, WebP, AVIF or HEIC': the list a refusal message gives."""
    names = [image_format.name for image_format in FORMATS]
    return f"{', '.join(names[:-1])} or {names[-1]}"
