"""The upload limits and accepted formats, as resolvers and the UI see them."""

from __future__ import annotations

from dataclasses import dataclass

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_upload_bytes: int
    max_pixels: int
    max_files: int


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB': sizes in messages a person reads."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    raise AssertionError("unreachable")
