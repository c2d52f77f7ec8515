"""Fixtures every test level shares."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "images"


@pytest.fixture(scope="session")
def fixture_images() -> dict[str, Path]:
    """Real, freely licensed images (see tests/fixtures/images/SOURCES.md), by file name."""
    return {path.name: path for path in sorted(FIXTURES.iterdir()) if path.suffix != ".md"}

