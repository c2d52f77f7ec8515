"""The `images` scenario's own measurements: what one thumbnail costs in CPU, ours beside
libvips's `vipsthumbnail` on the same file, and what the first page of the images view weighs.

The uploads and the worker memory it also reports are measured with the upload scenario's tools
(wrk, `FixedUploads`, `RssSampler`); `bench.scenarios.images` puts the four together.
"""

from __future__ import annotations

import io
import json
import resource
import shutil
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from imagehost.resolvers.decoding import decode_first_frame
from imagehost.resolvers.thumbnails import THUMBNAIL_BOX, render_thumbnail

from bench.processes import BenchError

PAGE_QUERY = "query($first: Int!) { images(first: $first) { edges { node { filename size thumbnailUrl } } } }"
VIPS_QUALITY = 80  # libvips's JPEG default is 75; 80 is the WebP quality our thumbnails started at


@dataclass(frozen=True)
class ImagesPlan:
    photo_size: tuple[int, int]
    """The camera photo's pixels: 12 MP in a full run."""
    photo_bytes: int
    """What its JPEG (quality 92) should weigh, as a camera's does."""
    thumbnail_repeat: int
    """Thumbnails timed per thumbnailer; the median is reported."""
    upload_concurrency: int
    memory_clients: int
    memory_uploads_per_client: int
    page_images: int
    """Photos uploaded for, and listed on, the images view's first page."""


FULL_IMAGES = ImagesPlan(photo_size=(4000, 3000), photo_bytes=4_000_000, thumbnail_repeat=15,
                         upload_concurrency=8, memory_clients=8, memory_uploads_per_client=2, page_images=50)
QUICK_IMAGES = ImagesPlan(photo_size=(640, 480), photo_bytes=105_000, thumbnail_repeat=3,
                          upload_concurrency=8, memory_clients=2, memory_uploads_per_client=1, page_images=4)


def vipsthumbnail_binary() -> str | None:
    return shutil.which("vipsthumbnail")


def _children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _ours_once(photo: bytes) -> tuple[float, float]:
    """CPU and wall ms of one thumbnail the way an upload makes it (decode at draft size, render)."""
    wall, cpu = time.perf_counter(), time.process_time()
    decoded = decode_first_frame(io.BytesIO(photo), "image/jpeg", THUMBNAIL_BOX)
    with decoded.image:
        render_thumbnail(decoded.image, decoded.orientation, decoded.icc_profile)
    return round((time.process_time() - cpu) * 1000, 1), round((time.perf_counter() - wall) * 1000, 1)


def _vips_once(binary: str, source: Path, target: Path) -> tuple[float, float]:
    """CPU (all its threads, from RUSAGE_CHILDREN) and wall ms of one `vipsthumbnail` run."""
    wall, cpu = time.perf_counter(), _children_cpu_ms()
    done = subprocess.run([binary, str(source), "-s", f"{THUMBNAIL_BOX[0]}x{THUMBNAIL_BOX[1]}",
                           "-o", f"{target}[Q={VIPS_QUALITY}]"], capture_output=True, timeout=60, check=False)
    spent = round(_children_cpu_ms() - cpu, 1), round((time.perf_counter() - wall) * 1000, 1)
    if done.returncode != 0 or not target.exists():
        raise BenchError(f"vipsthumbnail failed ({done.returncode}): {done.stderr.decode(errors='replace')[-300:]}")
    return spent


def _medians(runs: list[tuple[float, float]]) -> dict[str, float]:
    return {"cpu_ms": round(statistics.median(cpu for cpu, _ in runs), 1),
            "wall_ms": round(statistics.median(wall for _, wall in runs), 1)}


def thumbnail_cost(photo: bytes, repeat: int, work_dir: Path) -> dict[str, Any]:
    """Ours and vipsthumbnail's CPU per thumbnail of `photo`, interleaved run by run; the ceiling
    is None (not measured) where vipsthumbnail is not installed. Its start-up (loading libvips,
    its thread pool) is in its figure; `startup_cpu_ms` is the CLI on an 8 x 8 JPEG, to read it by."""
    binary = vipsthumbnail_binary()
    source = work_dir / "camera.jpg"
    source.write_bytes(photo)
    tiny = work_dir / "tiny.jpg"
    tiny.write_bytes(_tiny_jpeg())
    _ours_once(photo)  # the first decode pays for imports and allocations once
    ours: list[tuple[float, float]] = []
    vips: list[tuple[float, float]] = []
    startup: list[tuple[float, float]] = []
    for attempt in range(repeat):
        ours.append(_ours_once(photo))
        if binary is not None:
            vips.append(_vips_once(binary, source, work_dir / f"vips-{attempt}.jpg"))
            startup.append(_vips_once(binary, tiny, work_dir / "vips-tiny.jpg"))
    service = _medians(ours)
    ceiling: dict[str, Any] | None = None
    if binary is not None:
        ceiling = {**_medians(vips), "startup_cpu_ms": _medians(startup)["cpu_ms"],
                   "thumbnail_bytes": (work_dir / "vips-0.jpg").stat().st_size, "tool": _vips_version(binary)}
    work = ceiling["cpu_ms"] - ceiling["startup_cpu_ms"] if ceiling else None
    return {"service": service, "ceiling": ceiling,
            "ratio": round(service["cpu_ms"] / ceiling["cpu_ms"], 3) if ceiling and ceiling["cpu_ms"] else None,
            # What a worker calling libvips in-process would pay: the CLI without its start-up.
            "ratio_without_startup": round(service["cpu_ms"] / work, 3) if work and work > 0 else None,
            "runs": {"service": ours, "ceiling": vips, "ceiling_startup": startup}}


def _tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 150)).save(out, "JPEG")
    return out.getvalue()


def _vips_version(binary: str) -> str:
    done = subprocess.run([binary, "--vips-version"], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout.strip() or "?"


def first_page(graphql_url: str, first: int, auth: dict[str, str]) -> list[dict[str, Any]]:
    """The nodes of `images(first: N)`, newest first, as the images view asks for them (with the
    server's Authorization header: `images` lists the viewer's own)."""
    body = json.dumps({"query": PAGE_QUERY, "variables": {"first": first}}).encode()
    request = urllib.request.Request(graphql_url, body, {"Content-Type": "application/json", **auth})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise BenchError(f"images(first: {first}) failed: {error}") from error
    if answer.get("errors") or not answer.get("data"):
        raise BenchError(f"images(first: {first}) answered {str(answer)[:300]}")
    return [edge["node"] for edge in answer["data"]["images"]["edges"]]


def page_weight(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Bytes of every node's thumbnail, fetched as a browser would (through the stack), against
    the originals' (`size`): what the view downloads, and what it would without thumbnails."""
    thumbnail_bytes, failed = 0, 0
    for node in nodes:
        try:
            with urllib.request.urlopen(node["thumbnailUrl"], timeout=30) as response:
                thumbnail_bytes += len(response.read())
        except (urllib.error.URLError, OSError):
            failed += 1
    originals = sum(int(node["size"]) for node in nodes)
    return {"service": {"thumbnail_bytes": thumbnail_bytes, "thumbnails": len(nodes) - failed, "errors": failed},
            "originals_bytes": originals,
            "ratio": round(thumbnail_bytes / originals, 4) if originals else None}
