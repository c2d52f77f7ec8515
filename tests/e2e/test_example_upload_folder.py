"""examples/upload_folder.py, run as a user would, against a live `imagehost serve`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.e2e._service import FIXTURE_BY_NAME, total_count
from tests.support import run_serve

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "upload_folder.py"
# Fixtures without metadata, so the upload pipeline stores them exactly as sent (issue 14).
IMAGES = ["photo_coffee.jpg", "anim_throbber.gif", "anim_throbber.webp", "photo_chelsea.webp"]


def test_uploads_a_folder_in_batches_and_prints_a_line_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in IMAGES:
        shutil.copy(FIXTURE_BY_NAME[name].path, folder / name)
    (folder / "notes.jpg").write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\n")
    (folder / "readme.txt").write_text("not an image, and not offered\n")

    # Two files per request: five image files take three requests (one request would be refused).
    with run_serve(tmp_path, max_files="2") as server:
        completed = subprocess.run(
            [sys.executable, str(SCRIPT), str(folder), "--url", server.url + "/graphql"],
            env={**os.environ, "IMAGEHOST_TOKEN": server.token},  # the token from the environment
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = completed.stdout.splitlines()
        fields = [line.split("\t") for line in lines]

        assert completed.returncode == 1, completed.stderr  # one file refused
        assert [name for name, _ in fields] == sorted([*IMAGES, "notes.jpg"])
        outcomes = dict(fields)
        assert outcomes["notes.jpg"].startswith("UNSUPPORTED_TYPE: notes.jpg is not an image")
        for name in IMAGES:
            assert outcomes[name].startswith(server.url + "/images/")
            with urllib.request.urlopen(outcomes[name], timeout=10) as response:
                assert response.read() == FIXTURE_BY_NAME[name].data
        assert total_count(server.url) == len(IMAGES)
