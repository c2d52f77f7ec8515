"""Image bytes and the catalog that describes them, behind two small interfaces.

`BlobStore` keeps bytes, `Catalog` keeps records, and `ImageStore` keeps the two consistent.
`open_image_store` in `factory` is the one place that names the concrete backends.
"""

from imagehost.storage.errors import BlobExists, CatalogError, InvalidCursor, StorageError
from imagehost.storage.factory import open_image_store
from imagehost.storage.images import ImageStore
from imagehost.storage.protocols import BlobStore, Catalog
from imagehost.storage.records import EXTENSIONS, ImageRecord, NewImage, Page

__all__ = [
    "EXTENSIONS",
    "BlobExists",
    "BlobStore",
    "Catalog",
    "CatalogError",
    "ImageRecord",
    "ImageStore",
    "InvalidCursor",
    "NewImage",
    "Page",
    "StorageError",
    "open_image_store",
]
