"""One storage contract suite, run against every real backend (`image_store` is parametrized)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imagehost.storage import ImageStore, open_image_store


@pytest.fixture(params=["files+sqlite"])
def image_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImageStore]:
    # Later backends (S3, PostgreSQL) join the params list; each test runs against all of them.
    store = open_image_store(tmp_path / "images")
    yield store
    store.close()
