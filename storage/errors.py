"""The storage layer's own errors; each backend translates its failures into these.

Each error has a `code` a client can act on. `extensions` carries it to the API: graphql-core
copies the `extensions` of whatever a resolver raises into the GraphQL error, so a storage
failure reaches a client typed (`STORAGE_UNAVAILABLE`, `STORAGE_FULL`) from every operation,
without each resolver translating it.
"""

from __future__ import annotations

from pathlib import Path


class StorageError(Exception):
    """Storage could not do what was asked; the message says why."""

    code = "STORAGE_UNAVAILABLE"

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class StorageFull(StorageError):
    """No room for the bytes: the disk (or quota) is full, or free space is below the floor."""

    code = "STORAGE_FULL"

    def __init__(self, message: str, *, free_bytes: int | None = None, floor_bytes: int | None = None) -> None:
        super().__init__(message)
        self.free_bytes = free_bytes
        self.floor_bytes = floor_bytes
        """Set when the refusal is the free-space floor rather than a failed write."""


class BlobExists(StorageError):
    """A blob with that key is already stored; the store never overwrites."""

    def __init__(self, key: str) -> None:
        super().__init__(f"blob {key!r} already exists")
        self.key = key


class CatalogError(StorageError):
    """The catalog refused or failed a read or write."""


class CatalogMissing(CatalogError):
    """The catalog is gone but the images it described are still there: opening a new, empty
    one would hide them (and let a sweep treat them as litter)."""

    def __init__(self, path: Path, image_count: int) -> None:
        super().__init__(f"the folder holds {image_count} images but their catalog {path} is missing")
        self.path = path
        self.image_count = image_count


class CatalogReplaced(CatalogError):
    """The catalog file is not the one these images were stored with (its identity differs
    from the copy kept beside it)."""

    def __init__(self, path: Path, found: str | None, expected: str) -> None:
        found_text = f"identity {found}" if found else "no identity"
        super().__init__(f"the catalog {path} is not the one these images were stored with ({found_text}, expected {expected})")
        self.path = path
        self.found = found
        self.expected = expected


class InvalidCursor(StorageError):
    """A paging cursor that this catalog did not hand out."""

    code = "BAD_USER_INPUT"

    def __init__(self, cursor: str) -> None:
        super().__init__(f"{cursor!r} is not a valid cursor: pass an endCursor from an earlier page")
        self.cursor = cursor


class QuotaExceeded(StorageError):
    """Storing the image would take its owner past their quota; nothing was kept."""

    code = "QUOTA_EXCEEDED"

    def __init__(self, quota_bytes: int, stored_bytes: int, wanted_bytes: int) -> None:
        super().__init__(
            f"the account's quota of {quota_bytes} bytes would be exceeded ({stored_bytes} stored, {wanted_bytes} more)"
        )
        self.quota_bytes = quota_bytes
        self.stored_bytes = stored_bytes
        self.wanted_bytes = wanted_bytes


class UsernameTaken(StorageError):
    """An account with that name exists already."""

    code = "USERNAME_TAKEN"

    def __init__(self, username: str) -> None:
        super().__init__(f"there is already an account named {username!r}")
        self.username = username
