"""The thumbnail every image gets: fits in 512 x 512, WebP, upright, its first frame."""

from __future__ import annotations

import io

from PIL import Image

THUMBNAIL_BOX = (512, 512)
THUMBNAIL_TYPE = "image/webp"
WEBP_QUALITY = 80
# libwebp's effort (0-6): 4 is its default trade of speed against size.
WEBP_METHOD = 4
# How each EXIF orientation is undone (the EXIF 2.3 table, as ImageOps.exif_transpose applies it).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def render_thumbnail(image: Image.Image, orientation: int, icc_profile: bytes | None) -> bytes:
    """WebP bytes of `image` (already loaded) shrunk into THUMBNAIL_BOX and turned upright."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    small = image.convert(mode) if image.mode != mode else image.copy()
    small.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS, reducing_gap=2.0)
    if orientation in UPRIGHT:
        small = small.transpose(UPRIGHT[orientation])
    out = io.BytesIO()
    # A CMYK or grey profile does not describe the RGB pixels the thumbnail holds.
    keeps_profile = icc_profile is not None and image.mode in ("RGB", "RGBA")
    options = {"icc_profile": icc_profile} if keeps_profile else {}
    small.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD, **options)
    return out.getvalue()
