"""The service's code type-checks under `mypy --strict` (the habit of Starlette and Strawberry)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where each folder installs in the `imagehost` package (pyproject's package-dir).
PACKAGE_DIRS = {"schema": "schema", "resolvers": "resolvers", "storage": "storage"}


def test_mypy_strict(tmp_path: Path) -> None:
    # mypy does not follow setuptools' editable-install finder, so lay the package out as it
    # installs: imagehost/ is server/, with schema/, resolvers/ and storage/ inside it.
    package = tmp_path / "imagehost"
    package.mkdir()
    for entry in (REPO / "server").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in PACKAGE_DIRS.items():
        (package / name).symlink_to(REPO / folder)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
         "--cache-dir", str(REPO / ".mypy_cache"), "-p", "imagehost"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
