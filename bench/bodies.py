"""The images the benchmark sends, and the request bodies around them.

Uploads are real photos: `tests/fixtures/images/photo_rocket.jpg` (public domain) scaled with
Pillow until the encoded file is about the wanted size: a PNG for ~100 KB, JPEGs (quality 90) for
~900 KB and ~2 MB. The 10 MiB memory-scenario file is a noise PNG just under the default
per-file limit (noise does not compress, so its size is exact and cheap to hit). The `images`
scenario's camera photo is the same photo fitted to 4000 x 3000 with sensor-like grain added: an
upscale alone is too smooth to weigh what a 12 MP camera JPEG does (~4 MB at quality 92).
"""

from __future__ import annotations

import io
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "tests" / "fixtures" / "images" / "photo_rocket.jpg"

UPLOAD_QUERY = ("mutation($f: Upload!) { uploadImage(file: $f) { __typename "
                "... on Image { id } ... on UploadError { code message } } }")
UPLOAD_OK = '"__typename":%s*"Image"'


@dataclass(frozen=True)
class Sample:
    name: str
    """Label in the results, e.g. `100KB-png`."""
    filename: str
    data: bytes

    @property
    def kind(self) -> str:
        return "png" if self.filename.endswith(".png") else "jpeg"


def photo_of_size(target: int, kind: str) -> bytes:
    """The rocket photo scaled so its encoding is within ~5% of `target` bytes."""
    with Image.open(PHOTO) as original:
        photo = original.convert("RGB")
    scale = (target / len(_encode(photo, kind))) ** 0.5
    data = b""
    for _ in range(8):
        size = (max(8, round(photo.width * scale)), max(8, round(photo.height * scale)))
        data = _encode(photo.resize(size, Image.Resampling.LANCZOS), kind)
        if abs(len(data) - target) <= target * 0.05:
            break
        scale *= (target / len(data)) ** 0.5
    return data


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "png":
        image.save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=90)
    return out.getvalue()


def camera_jpeg(size: tuple[int, int], target: int, quality: int = 92) -> bytes:
    """The rocket photo fitted (cropped and scaled) to `size`, with Gaussian grain in each channel
    strong enough that the JPEG at `quality` is within ~5% of `target` bytes (as a camera's is)."""
    with Image.open(PHOTO) as original:
        photo = ImageOps.fit(original.convert("RGB"), size, Image.Resampling.LANCZOS)
    sigma, data = 8.0, b""
    for _ in range(5):
        grain = Image.merge("RGB", [Image.effect_noise(size, sigma) for _ in range(3)])
        out = io.BytesIO()
        ImageChops.add(photo, grain, 1.0, -128).save(out, "JPEG", quality=quality)
        data = out.getvalue()
        if abs(len(data) - target) <= target * 0.05:
            break
        sigma *= target / len(data)  # the size grows about linearly with the grain
    return data


def noise_png(max_bytes: int, seed: int = 5) -> bytes:
    """An RGB noise PNG of a little under `max_bytes` bytes."""
    width = 1800
    height = (max_bytes - 64 * 1024) // (3 * width + 1)
    pixels = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, "PNG", compress_level=1)
    data = out.getvalue()
    if len(data) > max_bytes:
        raise ValueError(f"noise PNG came out at {len(data)} bytes, over {max_bytes}")
    return data


def upload_samples() -> list[Sample]:
    sizes = [("100KB-png", 100_000, "png"), ("900KB-jpeg", 900_000, "jpeg"), ("2MB-jpeg", 2_000_000, "jpeg")]
    return [Sample(name, f"bench-{name}.{'png' if kind == 'png' else 'jpg'}", photo_of_size(size, kind))
            for name, size, kind in sizes]


def multipart_upload(data: bytes, filename: str) -> tuple[bytes, str]:
    """A GraphQL multipart request (operations, map, then the file); body and Content-Type."""
    boundary = uuid.uuid4().hex
    operations = json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}})
    body = b"".join([
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.f"]}}\r\n'.encode(),
        (f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="{filename}"\r\n'
         f"Content-Type: application/octet-stream\r\n\r\n").encode(),
        data,
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    return body, f"multipart/form-data; boundary={boundary}"
