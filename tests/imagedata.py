"""Small images drawn on the spot, for tests that need many or odd ones."""

from __future__ import annotations

import io

from PIL import Image


def drawn_png(width: int = 8, height: int = 6, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()
