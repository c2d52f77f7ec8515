"""The storage layer's own errors; each backend translates its failures into these."""

from __future__ import annotations


class StorageError(Exception):
    """Storage could not do what was asked; the message says why."""


class BlobExists(StorageError):
    """A blob with that key is already stored; the store never overwrites."""

    def __init__(self, key: str) -> None:
        super().__init__(f"blob {key!r} already exists")
        self.key = key


class CatalogError(StorageError):
    """The catalog refused or failed a read or write."""


class InvalidCursor(StorageError):
    """A paging cursor that this catalog did not hand out."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"{cursor!r} is not a valid cursor: pass an endCursor from an earlier page")
        self.cursor = cursor
