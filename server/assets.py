"""Where the data folders (`frontend/`, `nginx/`) are, in a clone and in an installed copy."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    # Installed: site-packages/imagehost/<name>. Editable install or clone: <repo>/<name>,
    # beside server/ (this folder).
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation")
