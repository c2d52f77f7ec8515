"""A real crash in the middle of an upload: a child process stores through the storage layer and
SIGKILLs itself at the chosen step, leaving exactly what such a crash leaves."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.imagedata import drawn_png

KILLED_AT = {
    # The bytes have their final name and the marker; the row never came.
    "after_bytes": "store.blobs.put(key, io.BytesIO(data))",
    # The row is in; the process died before it removed the marker.
    "after_row": "store.blobs.put(key, io.BytesIO(data)); store.catalog.add(record)",
}


def crash_mid_upload(images_dir: Path, step: str, letter: str = "C") -> str:
    """Store a drawn PNG in `images_dir` and die at `step`; the key it was storing."""
    script = textwrap.dedent(f"""
        import io, os, signal, sys
        from datetime import UTC, datetime
        from pathlib import Path
        from imagehost.storage import ImageRecord, open_image_store
        store = open_image_store(Path(sys.argv[1]))
        data = sys.stdin.buffer.read()
        record = ImageRecord({letter * 22!r}, "crash.png", "image/png", len(data), 8, 6, datetime.now(UTC))
        key = record.key
        print(key, flush=True)
        {KILLED_AT[step]}
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script, str(images_dir)], input=drawn_png(), capture_output=True, timeout=30, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    return result.stdout.decode().strip()
