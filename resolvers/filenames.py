"""Client file names are display data: cleaned here, never used as paths."""

from __future__ import annotations

import unicodedata

MAX_FILENAME_LENGTH = 255


def clean_filename(raw: str | None, extension: str) -> str:
    """The last path part, without control or format characters, at most 255 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"})
    name = " ".join(name.split())
    if name in {"", ".", ".."}:
        return f"image.{extension}"
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and len(suffix) <= 10:
            name = stem[: MAX_FILENAME_LENGTH - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_FILENAME_LENGTH]
    return name
