"""What the catalog stores about an image, independent of any backend or API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from imagehost.storage import keys as key_scheme
from imagehost.storage.formats import FORMATS

EXTENSIONS = {image_format.content_type: image_format.extension for image_format in FORMATS}
"""Content type -> extension, from the formats registry (kept for callers that predate it)."""


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """The small rendition made at upload, held in memory (it is a few tens of KB)."""

    data: bytes
    content_type: str
    """One of keys.THUMBNAIL_TYPES."""


@dataclass(frozen=True, slots=True)
class Original:
    """The uploaded bytes, kept beside a displayable rendition when browsers cannot show them."""

    source: BinaryIO
    """Read from its current position."""
    content_type: str
    """A format of the registry that is not browser_displayable (HEIC)."""


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image validated and ready to store; the store adds its id and time.

    `content_type`, `size`, `width` and `height` are the display bytes' (the JPEG made from a
    HEIC upload); `thumbnail` is None only for callers that make none yet.
    """

    filename: str
    content_type: str
    size: int
    width: int
    height: int
    thumbnail: Thumbnail | None = None
    original: Original | None = None
    owner_id: str | None = None
    """The account it belongs to; None for an anonymous (public-uploads) upload."""
    delete_token_hash: str | None = None
    """SHA-256 of the secret that lets an anonymous uploader delete it."""


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: str
    filename: str
    content_type: str
    size: int
    """Bytes of the display file."""
    width: int
    height: int
    created_at: datetime
    thumbnail_type: str | None = None
    """None only for images stored before thumbnails were made."""
    original_type: str | None = None
    """Set when an original other than the display bytes is kept (HEIC)."""
    owner_id: str | None = None
    """None for an anonymous upload (and images stored before accounts, until an admin adopts them)."""
    stored_bytes: int = 0
    """Bytes of every key stored for it (display, thumbnail, original): what counts against a quota."""
    delete_token_hash: str | None = None

    @property
    def key(self) -> str:
        """The display bytes' key (and file name on disk): what the image's URL names."""
        return key_scheme.display_key(self.id, self.content_type)

    @property
    def thumbnail_key(self) -> str:
        """The thumbnail's key; the display key for an image stored without one."""
        if self.thumbnail_type is None:
            return self.key
        return key_scheme.thumbnail_key(self.id, self.thumbnail_type)

    @property
    def original_key(self) -> str | None:
        return key_scheme.original_key(self.id, self.original_type) if self.original_type is not None else None

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key stored for this image, the display bytes first."""
        found = [self.key]
        if self.thumbnail_type is not None:
            found.append(self.thumbnail_key)
        if self.original_key is not None:
            found.append(self.original_key)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the catalog, newest first."""

    records: list[ImageRecord]
    cursors: list[str]
    has_next_page: bool
    total_count: int

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None
