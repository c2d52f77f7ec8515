"""The one place that names concrete storage backends."""

from __future__ import annotations

from pathlib import Path

from imagehost.storage.file_blobs import FileBlobStore
from imagehost.storage.images import ImageStore
from imagehost.storage.keys import is_display
from imagehost.storage.sqlite_accounts import SqliteAccounts
from imagehost.storage.sqlite_catalog import SqliteCatalog

# Everything that is not image bytes lives under this hidden folder of the images folder,
# so whatever serves the images folder can refuse it with one rule.
PRIVATE_DIR = ".imagehost"


def catalog_path(images_dir: Path) -> Path:
    return images_dir / PRIVATE_DIR / "catalog.sqlite3"


def open_image_store(images_dir: Path, *, min_free_bytes: int = 0, repair: bool = False) -> ImageStore:
    """The embedded default: files in `images_dir`, the catalog in SQLite beside them.

    Raises CatalogMissing or CatalogReplaced when the catalog is not the one the images were
    stored with; `repair` opens anyway (a new catalog, or the one found adopted).
    """
    blobs = FileBlobStore(images_dir, work_dir=images_dir / PRIVATE_DIR / "tmp", min_free_bytes=min_free_bytes)
    catalog = SqliteCatalog(
        catalog_path(images_dir), existing_images=lambda: sum(map(is_display, blobs.keys())), repair=repair
    )
    return ImageStore(blobs, catalog, SqliteAccounts(catalog))
