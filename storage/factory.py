"""The one place that names concrete storage backends."""

from __future__ import annotations

from pathlib import Path

from imagehost.storage.file_blobs import FileBlobStore
from imagehost.storage.images import ImageStore
from imagehost.storage.sqlite_catalog import SqliteCatalog

# Everything that is not image bytes lives under this hidden folder of the images folder,
# so whatever serves the images folder can refuse it with one rule.
PRIVATE_DIR = ".imagehost"


def open_image_store(images_dir: Path) -> ImageStore:
    """The embedded default: files in `images_dir`, the catalog in SQLite beside them."""
    private = images_dir / PRIVATE_DIR
    blobs = FileBlobStore(images_dir, work_dir=private / "tmp")
    catalog = SqliteCatalog(private / "catalog.sqlite3")
    return ImageStore(blobs, catalog)
