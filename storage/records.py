"""What the catalog stores about an image, independent of any backend or API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image validated and ready to store; the store adds its id and time."""

    filename: str
    content_type: str
    size: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: str
    filename: str
    content_type: str
    size: int
    width: int
    height: int
    created_at: datetime

    @property
    def key(self) -> str:
        """The blob key (and file name on disk): the id plus the extension of its type."""
        return f"{self.id}.{EXTENSIONS[self.content_type]}"


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
