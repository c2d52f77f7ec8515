"""The upload limits and accepted formats, as resolvers and the UI see them."""

from __future__ import annotations

from dataclasses import dataclass

from imagehost.storage.formats import ACCEPTED_TYPES

__all__ = ["ACCEPTED_TYPES", "UploadLimits", "human_size"]


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_upload_bytes: int
    max_pixels: int
    max_files: int
    keep_metadata: bool = False
    """IMAGEHOST_KEEP_METADATA: store uploads with their EXIF/XMP/IPTC/comments (off: stripped)."""
    public_uploads: bool = False
    """IMAGEHOST_PUBLIC_UPLOADS: anyone may upload, anonymous uploads carry a delete token."""
    public_uploads_per_hour: int = 60
    """IMAGEHOST_PUBLIC_UPLOADS_PER_HOUR: anonymous uploads per client address and hour."""


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB': sizes in messages a person reads."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    raise AssertionError("unreachable")
