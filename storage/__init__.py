"""Image bytes and the catalog that describes them, behind two small interfaces.

`BlobStore` keeps bytes, `Catalog` keeps records, and `ImageStore` keeps the two consistent.
`open_image_store` in `factory` is the one place that names the concrete backends.
"""

from imagehost.storage.account_records import ApiTokenRecord, Credentials, TokenHolder, UserRecord
from imagehost.storage.audit import Audit, SweepReport, WorkFolderReport
from imagehost.storage.errors import (
    BlobExists,
    CatalogError,
    CatalogMissing,
    CatalogReplaced,
    InvalidCursor,
    QuotaExceeded,
    StorageError,
    StorageFull,
    UsernameTaken,
)
from imagehost.storage.factory import catalog_path, open_image_store
from imagehost.storage.images import ImageStore
from imagehost.storage.protocols import Accounts, BlobStore, Catalog, PendingPut
from imagehost.storage.records import EXTENSIONS, ImageRecord, NewImage, Original, Page, Thumbnail

__all__ = [
    "EXTENSIONS",
    "Accounts",
    "ApiTokenRecord",
    "Credentials",
    "QuotaExceeded",
    "TokenHolder",
    "UserRecord",
    "UsernameTaken",
    "Audit",
    "BlobExists",
    "BlobStore",
    "Catalog",
    "CatalogError",
    "CatalogMissing",
    "CatalogReplaced",
    "ImageRecord",
    "ImageStore",
    "InvalidCursor",
    "NewImage",
    "Original",
    "Page",
    "PendingPut",
    "StorageError",
    "StorageFull",
    "SweepReport",
    "Thumbnail",
    "WorkFolderReport",
    "catalog_path",
    "open_image_store",
]
