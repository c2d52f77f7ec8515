"""The key scheme: which blob keys one image has, and the one pattern every key matches.

An image is stored as up to three keys, all named after its id: the display bytes
`<id>.<ext>` (what `url` serves), the thumbnail `<id>.thumb.<ext>`, and, for a format browsers
cannot show (HEIC), the original `<id>.<ext>` beside a displayable rendition. The extensions come
from the formats registry; nothing else names keys, and nothing else is ever a path.
"""

from __future__ import annotations

import re

from imagehost.storage.formats import BY_CONTENT_TYPE, FORMATS, ImageFormat

ID_PATTERN = "[A-Za-z0-9_-]{22}"
"""Ids from `secrets.token_urlsafe(16)`."""
THUMBNAIL_MARK = "thumb"
THUMBNAIL_TYPES: tuple[str, ...] = ("image/webp", "image/jpeg")
"""The types a thumbnail is stored as: JPEG for opaque images, WebP for transparent ones (and
for every image stored before JPEG thumbnails; the catalog names each row's type)."""

DISPLAY_EXTENSIONS = tuple(image_format.extension for image_format in FORMATS if image_format.browser_displayable)
ORIGINAL_EXTENSIONS = tuple(image_format.extension for image_format in FORMATS if not image_format.browser_displayable)
THUMBNAIL_EXTENSIONS = tuple(BY_CONTENT_TYPE[content_type].extension for content_type in THUMBNAIL_TYPES)


def _choice(extensions: tuple[str, ...]) -> str:
    return "|".join(re.escape(extension) for extension in extensions)


KEY_SUFFIX_PATTERN = (
    rf"(?:{_choice(DISPLAY_EXTENSIONS)}|{_choice(ORIGINAL_EXTENSIONS)}"
    rf"|{THUMBNAIL_MARK}\.(?:{_choice(THUMBNAIL_EXTENSIONS)}))"
)
"""What follows `<id>.` in a key (a regex without anchors, for Nginx's configuration too)."""
KEY_REGEX = rf"{ID_PATTERN}\.{KEY_SUFFIX_PATTERN}"
"""A whole key, unanchored (Nginx's configuration is rendered with it)."""
KEY_PATTERN = re.compile(rf"^{KEY_REGEX}$")
"""Exactly the keys the store makes; anything else (the catalog, a client's name) is never one."""

CONTENT_TYPES_BY_EXTENSION = {
    image_format.extension: image_format.content_type
    for image_format in FORMATS
    if image_format.extension in {*DISPLAY_EXTENSIONS, *ORIGINAL_EXTENSIONS, *THUMBNAIL_EXTENSIONS}
}
"""The Content-Type a key is served with, by the extension it ends in."""


def image_id_of(key: str) -> str:
    """The id a key belongs to."""
    return key.split(".", 1)[0]


def content_type_of(key: str) -> str:
    """The Content-Type of a key's bytes (the key must match KEY_PATTERN)."""
    return CONTENT_TYPES_BY_EXTENSION[key.rsplit(".", 1)[-1]]


def is_thumbnail(key: str) -> bool:
    return key.split(".")[1:-1] == [THUMBNAIL_MARK]


def is_original(key: str) -> bool:
    """Whether `key` names an original kept beside its displayable rendition (`<id>.heic`)."""
    return not is_thumbnail(key) and key.rsplit(".", 1)[-1] in ORIGINAL_EXTENSIONS


def is_display(key: str) -> bool:
    """Whether `key` names the bytes an image is displayed with (its `url`)."""
    return not is_thumbnail(key) and key.rsplit(".", 1)[-1] in DISPLAY_EXTENSIONS


def display_key(image_id: str, content_type: str) -> str:
    return f"{image_id}.{_displayable(content_type).extension}"


def thumbnail_key(image_id: str, content_type: str) -> str:
    if content_type not in THUMBNAIL_TYPES:
        raise ValueError(f"{content_type} is not a thumbnail type ({', '.join(THUMBNAIL_TYPES)})")
    return f"{image_id}.{THUMBNAIL_MARK}.{BY_CONTENT_TYPE[content_type].extension}"


def original_key(image_id: str, content_type: str) -> str:
    image_format = BY_CONTENT_TYPE.get(content_type)
    if image_format is None or image_format.browser_displayable:
        raise ValueError(f"{content_type} is not kept as an original beside a rendition")
    return f"{image_id}.{image_format.extension}"


def _displayable(content_type: str) -> ImageFormat:
    image_format = BY_CONTENT_TYPE.get(content_type)
    if image_format is None or not image_format.browser_displayable:
        raise ValueError(f"{content_type} cannot be the bytes an image is displayed with")
    return image_format
