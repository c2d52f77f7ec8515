"""Client file names are display data: cleaned here, never used as paths."""

from __future__ import annotations

import unicodedata

MAX_FILENAME_LENGTH = 255
# A name of thousands of characters is cut before it is cleaned character by character (which
# costs ~0.1 ms per 1,000): the cleaned name's start and its extension come from these parts.
_KEPT_BEFORE_CLEANING = 4 * MAX_FILENAME_LENGTH
_KEPT_AT_THE_END = 16


def clean_filename(raw: str | None, extension: str) -> str:
    """The name an image is stored under: the client's, cleaned, or `image.<ext>` if it gave none."""
    return display_filename(raw) or f"image.{extension}"


def display_filename(raw: str | None) -> str | None:
    """The last path part, without control or format characters, at most 255 characters (the
    extension kept); None when nothing usable is left."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    if len(name) > _KEPT_BEFORE_CLEANING:  # only the start and the extension survive the cut below
        name = name[: _KEPT_BEFORE_CLEANING - _KEPT_AT_THE_END] + name[-_KEPT_AT_THE_END:]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"})
    name = " ".join(name.split())
    if name in {"", ".", ".."}:
        return None
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and len(suffix) <= 10:
            name = stem[: MAX_FILENAME_LENGTH - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_FILENAME_LENGTH]
    return name
