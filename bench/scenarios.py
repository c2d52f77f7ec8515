"""The scenarios: each returns rows of figures, every figure beside the reference it is judged
against (a ceiling measured in the same run, or the same figure at a smaller size or load)."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.abuse import Target, fill_to, run_abuse
from bench.attacks import FULL_ABUSE, QUICK_ABUSE, AbusePlan
from bench.auth_ab import FULL_AUTH, QUICK_AUTH, AuthPlan, auth
from bench.bodies import UPLOAD_OK, Sample, camera_jpeg, multipart_upload, noise_png
from bench.fill import Filler
from bench.images import FULL_IMAGES, QUICK_IMAGES, ImagesPlan, first_page, page_weight, thumbnail_cost
from bench.loadgen import FixedUploads, RssSampler, percentile, run_wrk, settle_disk
from bench.processes import HOST, BenchError, Ceiling, Serve, Stack, answers

LIST_QUERY = ("query($after: String) { images(first: 50, after: $after) { totalCount "
              "pageInfo { hasNextPage endCursor } edges { cursor node { id filename contentType "
              "size width height url createdAt } } } }")
_SERVER_TIME = re.compile(r"method=POST path=/graphql status=200 .*duration_ms=([0-9.]+)")


@dataclass(frozen=True)
class Plan:
    seconds: int
    """Length of each timed wrk run."""
    repeat: int
    """Runs per figure; the median is reported."""
    warmup_seconds: int
    upload_concurrency: tuple[int, ...]
    catalog_sizes: tuple[int, ...]
    list_seconds: int
    serve_concurrency: int
    serve_files: int
    delete_concurrency: tuple[int, ...]
    delete_ids: int
    """Images made for each delete run (more than it can delete in `seconds`)."""
    memory_clients: tuple[int, ...]
    memory_uploads_per_client: int
    memory_file_bytes: int
    abuse: AbusePlan
    images: ImagesPlan
    auth: AuthPlan


FULL = Plan(seconds=3, repeat=3, warmup_seconds=1, upload_concurrency=(1, 8, 32),
            catalog_sizes=(1_000, 10_000, 100_000), list_seconds=2, serve_concurrency=32,
            serve_files=256, delete_concurrency=(8, 32), delete_ids=12_000,
            memory_clients=(8, 32), memory_uploads_per_client=2, memory_file_bytes=10 * 1024 * 1024,
            abuse=FULL_ABUSE, images=FULL_IMAGES, auth=FULL_AUTH)
QUICK = Plan(seconds=1, repeat=1, warmup_seconds=0, upload_concurrency=(8,),
             catalog_sizes=(100, 1_000), list_seconds=1, serve_concurrency=32, serve_files=32,
             delete_concurrency=(8, 32), delete_ids=1_500,
             memory_clients=(2, 4), memory_uploads_per_client=1, memory_file_bytes=2 * 1000 * 1000,
             abuse=QUICK_ABUSE, images=QUICK_IMAGES, auth=QUICK_AUTH)


@dataclass
class Context:
    plan: Plan
    stack: Stack
    ceiling: Ceiling
    filler: Filler
    work_dir: Path
    samples: list[Sample]
    progress: Callable[[str], None]
    baseline: Stack | None = None
    """The other checkout's stack (`--baseline-worktree`), measured interleaved with ours."""

    @property
    def graphql(self) -> str:
        return f"{self.stack.url}/graphql"

    def auth(self, target: str) -> dict[str, str]:
        """The Authorization header of a named target ("service", "baseline"; ceilings: none)."""
        server = {"service": self.stack, "baseline": self.baseline}.get(target)
        return server.auth if server is not None else {}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the runs; counts are summed."""
    merged: dict[str, Any] = {}
    for key in ("rps", "mbps", "p50_ms", "p95_ms", "p99_ms", "server_p50_ms", "server_p95_ms"):
        values = [run[key] for run in runs if run.get(key) is not None]
        if values:
            merged[key] = round(statistics.median(values), 2)
    for key in ("requests", "ok", "errors", "not_found", "server_requests"):
        if any(key in run for run in runs):
            merged[key] = sum(run.get(key, 0) for run in runs)
    return merged


def ratio(value: float | None, reference: float | None) -> float | None:
    return round(value / reference, 3) if value is not None and reference else None


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


# -- upload ----------------------------------------------------------------------------------

def upload(ctx: Context) -> list[dict[str, Any]]:
    rows = []
    for sample in ctx.samples:
        body, content_type = multipart_upload(sample.data, sample.filename)
        args = [str(_write(ctx.work_dir / f"upload-{sample.name}.body", body)), content_type, UPLOAD_OK]
        targets = {**_baseline_target(ctx), "service": ctx.graphql, "ceiling": f"{ctx.ceiling.proxy_url}/graphql",
                   "store_ceiling": f"{ctx.ceiling.proxy_url}/graphql?store"}
        if ctx.plan.warmup_seconds:
            for name, url in targets.items():
                run_wrk(url, "post.lua", args, 8, ctx.plan.warmup_seconds, ctx.auth(name))
        top = max(ctx.plan.upload_concurrency)
        for concurrency in ctx.plan.upload_concurrency:
            # The store-only ceiling explains the gap; it is measured where the targets are.
            names = [name for name in targets if concurrency == top or name != "store_ceiling"]
            runs = _timed_uploads(ctx, {name: targets[name] for name in names}, args, concurrency, len(sample.data))
            service, ceiling = median_of(runs["service"]), median_of(runs["ceiling"])
            row: dict[str, Any] = {"sample": sample.name, "file_bytes": len(sample.data), "concurrency": concurrency,
                   "service": service, "ceiling": ceiling,
                   "ratio": ratio(service["rps"], ceiling["rps"]), "runs": runs}
            if "store_ceiling" in runs:
                row["store_ceiling"] = median_of(runs["store_ceiling"])
                row["store_ratio"] = ratio(service["rps"], row["store_ceiling"]["rps"])
            _beside_baseline(row, runs)
            ctx.progress(f"upload {sample.name} c={concurrency}: {service['rps']} req/s, "
                         f"ceiling {ceiling['rps']} req/s"
                         + (f", store-only ceiling {row['store_ceiling']['rps']} req/s" if "store_ceiling" in row else "")
                         + _baseline_note(row) + f", errors {service['errors']}")
            rows.append(row)
    return rows


def _timed_uploads(ctx: Context, targets: dict[str, str], args: list[str], concurrency: int,
                   file_bytes: int) -> dict[str, list[dict[str, Any]]]:
    """`repeat` wrk runs of one upload body per target, interleaved (baseline, ours, ceilings) so
    drift hits all alike."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(ctx.plan.repeat):
        for name, url in targets.items():
            run = run_wrk(url, "post.lua", args, concurrency, ctx.plan.seconds, ctx.auth(name))
            run["mbps"] = round(run["rps"] * file_bytes / 1e6, 2)
            runs[name].append(run)
    return runs


def _baseline_target(ctx: Context) -> dict[str, str]:
    """The baseline's /graphql, first in each round of interleaved runs, when there is one."""
    return {"baseline": f"{ctx.baseline.url}/graphql"} if ctx.baseline is not None else {}


def _beside_baseline(row: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> None:
    if "baseline" in runs:
        row["baseline"] = median_of(runs["baseline"])
        row["vs_baseline"] = ratio(row["service"]["rps"], row["baseline"]["rps"])


def _baseline_note(row: dict[str, Any]) -> str:
    if "baseline" not in row:
        return ""
    return f", baseline {row['baseline']['rps']} req/s ({row['vs_baseline']}x)"


# -- floor -----------------------------------------------------------------------------------

FLOOR_QUERY = json.dumps({"query": "{ __typename }"})


def floor(ctx: Context) -> list[dict[str, Any]]:
    """The cheapest request the GraphQL endpoint answers (`{ __typename }` as JSON, no storage),
    beside the discard ceiling with the same body: what the framework alone leaves of the ceiling.
    No upload can be faster than this, so it bounds what any upload figure can reach."""
    args = [str(_write(ctx.work_dir / "floor.json", FLOOR_QUERY)), "application/json", '"__typename"']
    targets = {**_baseline_target(ctx), "service": ctx.graphql, "ceiling": f"{ctx.ceiling.proxy_url}/graphql"}
    concurrency = max(ctx.plan.upload_concurrency)
    if ctx.plan.warmup_seconds:
        for name in ("baseline", "service"):
            if name in targets:
                run_wrk(targets[name], "post.lua", args, 8, ctx.plan.warmup_seconds, ctx.auth(name))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(ctx.plan.repeat):
        for name, url in targets.items():
            runs[name].append(run_wrk(url, "post.lua", args, concurrency, ctx.plan.seconds, ctx.auth(name)))
    service, ceiling = median_of(runs["service"]), median_of(runs["ceiling"])
    row: dict[str, Any] = {"query": "{ __typename }", "concurrency": concurrency, "service": service, "ceiling": ceiling,
           "ratio": ratio(service["rps"], ceiling["rps"]), "runs": runs}
    _beside_baseline(row, runs)
    ctx.progress(f"floor c={concurrency}: {service['rps']} req/s, ceiling {ceiling['rps']} req/s" + _baseline_note(row))
    return [row]


# -- list ------------------------------------------------------------------------------------

def server_times(app_log: Path, offset: int) -> list[float]:
    """duration_ms of the successful /graphql POSTs the app logged after byte `offset`."""
    with app_log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return [float(match[1]) for match in _SERVER_TIME.finditer(text)]


def listing(ctx: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    app_log = ctx.stack.log_dir / "app.log"
    for size in ctx.plan.catalog_sizes:
        missing = size - ctx.filler.total()
        if missing > 0:
            filled = ctx.filler.add(missing, "list")
            ctx.progress(f"list: catalog filled to {size} images (+{len(filled)})")
        pages = {"first": None, "deep": ctx.filler.cursor_at(0.9)}
        for page, after in pages.items():
            body = json.dumps({"query": LIST_QUERY, "variables": {"after": after}})
            args = [str(_write(ctx.work_dir / f"list-{page}.json", body)), "application/json", '"totalCount"']
            if ctx.plan.warmup_seconds and not rows and page == "first":  # the first queries of a
                run_wrk(ctx.graphql, "post.lua", args, 1, ctx.plan.warmup_seconds, ctx.stack.auth)  # fresh worker are slow
            runs = []
            for _ in range(ctx.plan.repeat):
                offset = app_log.stat().st_size
                run = run_wrk(ctx.graphql, "post.lua", args, 1, ctx.plan.list_seconds, ctx.stack.auth)
                times = server_times(app_log, offset)
                run.update(server_p50_ms=percentile(times, 0.5), server_p95_ms=percentile(times, 0.95),
                           server_requests=len(times))
                runs.append(run)
            service = median_of(runs)
            ctx.progress(f"list {size} images, {page} page: p50 {service['p50_ms']} ms "
                         f"(server {service.get('server_p50_ms')} ms)")
            rows.append({"images": size, "page": page, "service": service, "runs": runs})
    for row in rows:  # how each figure grows with the catalog: against the smallest size
        base = next(r for r in rows if r["page"] == row["page"])
        row["reference_images"] = base["images"]
        row["ratio"] = ratio(row["service"].get("server_p50_ms"), base["service"].get("server_p50_ms"))
    return rows


# -- serve -----------------------------------------------------------------------------------

def serve(ctx: Context) -> list[dict[str, Any]]:
    # The ~100 KB PNGs uploaded by the upload scenario (distinct files); else the catalog fill.
    keys = ctx.filler.keys_named("bench-100KB", ctx.plan.serve_files)
    if len(keys) < ctx.plan.serve_files // 2:
        keys = ctx.filler.keys_named("list-", ctx.plan.serve_files)
    if not keys:
        raise BenchError("no images to serve")
    paths = _write(ctx.work_dir / "serve-paths.txt", "".join(f"/images/{key}\n" for key in keys))
    sizes = [(ctx.stack.images_dir / key).stat().st_size for key in keys]
    targets = {"service": ctx.stack.url, "ceiling": ctx.ceiling.static_url}
    for name, url in targets.items():
        if not answers(f"{url}/images/{keys[0]}"):
            raise BenchError(f"the {name} does not serve {url}/images/{keys[0]}")
    runs: dict[str, list[dict[str, Any]]] = {"service": [], "ceiling": []}
    for _ in range(ctx.plan.repeat):
        for name, url in targets.items():
            run = run_wrk(url, "get.lua", [str(paths)], ctx.plan.serve_concurrency, ctx.plan.seconds)
            run["mbps"] = round(run["bytes_read"] / run["seconds"] / 1e6, 1)
            runs[name].append(run)
    service, ceiling = median_of(runs["service"]), median_of(runs["ceiling"])
    ctx.progress(f"serve c={ctx.plan.serve_concurrency}: {service['rps']} req/s, ceiling {ceiling['rps']} req/s")
    return [{"files": len(keys), "mean_file_bytes": round(statistics.mean(sizes)),
             "concurrency": ctx.plan.serve_concurrency, "service": service, "ceiling": ceiling,
             "ratio": ratio(service["rps"], ceiling["rps"]), "runs": runs}]


# -- delete ----------------------------------------------------------------------------------

def delete(ctx: Context) -> list[dict[str, Any]]:
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in ctx.plan.delete_concurrency}
    for attempt in range(ctx.plan.repeat):
        # Interleaved, so the catalog's growth and the machine's drift hit every concurrency alike.
        for concurrency in ctx.plan.delete_concurrency:
            ids = ctx.filler.add(ctx.plan.delete_ids, f"delete-{concurrency}-{attempt}")
            ids_file = _write(ctx.work_dir / "delete-ids.txt", "\n".join(ids) + "\n")
            run = run_wrk(ctx.graphql, "delete.lua", [str(ids_file)], concurrency, ctx.plan.seconds, ctx.stack.auth)
            run["ids_exhausted"] = run["not_found"] > 0  # then req/s is a lower bound
            runs[concurrency].append(run)
    rows: list[dict[str, Any]] = []
    for concurrency, its_runs in runs.items():
        service = median_of(its_runs)
        service["ids_exhausted"] = any(run["ids_exhausted"] for run in its_runs)
        ctx.progress(f"delete c={concurrency}: {service['rps']} deletes/s, errors {service['errors']}")
        rows.append({"concurrency": concurrency, "service": service, "runs": its_runs})
    for row in rows:  # no collapse with concurrency: against the lowest concurrency
        row["reference_concurrency"] = rows[0]["concurrency"]
        row["ratio"] = ratio(row["service"]["rps"], rows[0]["service"]["rps"])
    return rows


# -- memory ----------------------------------------------------------------------------------

def memory(ctx: Context) -> list[dict[str, Any]]:
    data = noise_png(ctx.plan.memory_file_bytes)
    body, content_type = multipart_upload(data, "bench-memory.png")
    rows: list[dict[str, Any]] = []
    for clients in ctx.plan.memory_clients:
        result, idle, peaks = _uploads_at_once(ctx, body, content_type, clients,
                                               clients * ctx.plan.memory_uploads_per_client)
        ctx.progress(f"memory {clients} clients x {len(data)} bytes: worker peaks {sorted(peaks.values())} MB, "
                     f"{result['ok']}/{result['uploads']} stored")
        rows.append({"clients": clients, "file_bytes": len(data), **result,
                     "worker_idle_rss_mb": sorted(idle.values()),
                     "worker_peak_rss_mb": sorted(peaks.values()),
                     "service": {"max_peak_rss_mb": max(peaks.values()), "errors": result["errors"]}})
    for row in rows:  # flat with more concurrent uploads: against the fewest clients
        row["reference_clients"] = rows[0]["clients"]
        row["ratio"] = ratio(row["service"]["max_peak_rss_mb"], rows[0]["service"]["max_peak_rss_mb"])
    return rows


def _uploads_at_once(ctx: Context, body: bytes, content_type: str, clients: int,
                    uploads: int) -> tuple[dict[str, Any], dict[int, float], dict[int, float]]:
    """`uploads` of one body by `clients` at once; what came back, and each worker's RSS (MB)
    before and its peak during them."""
    settle_disk()
    pids = ctx.stack.worker_pids()
    if not pids:
        raise BenchError("no worker processes found under the stack")
    with RssSampler(pids) as sampler:
        idle = sampler.peaks_mb()
        result = FixedUploads(HOST, ctx.stack.port, body, content_type, clients, uploads,
                              headers=ctx.stack.auth).run()
    return result, idle, sampler.peaks_mb()


# -- images ----------------------------------------------------------------------------------

CAMERA_FILENAME = "bench-camera.jpg"


def images(ctx: Context) -> list[dict[str, Any]]:
    """A camera's 12 MP JPEG (~4 MB), four figures each beside its reference: the thumbnail's CPU
    beside vipsthumbnail's, uploads/s at c=8 beside the store-only ceiling (and the baseline), the
    workers' peak RSS during 8 uploads at once beside their idle RSS, and the images view's first
    page beside its originals' bytes."""
    plan = ctx.plan.images
    photo = camera_jpeg(plan.photo_size, plan.photo_bytes)
    described = {"width": plan.photo_size[0], "height": plan.photo_size[1], "file_bytes": len(photo)}
    ctx.progress(f"images: camera photo {plan.photo_size[0]}x{plan.photo_size[1]}, {len(photo):,} bytes")
    body, content_type = multipart_upload(photo, CAMERA_FILENAME)
    rows = [_thumbnail_row(ctx, photo), _camera_upload_row(ctx, body, content_type, len(photo)),
            _camera_memory_row(ctx, body, content_type), _page_row(ctx, body, content_type)]
    return [{"figure": row.pop("figure"), **described, **row} for row in rows]


def _thumbnail_row(ctx: Context, photo: bytes) -> dict[str, Any]:
    cost = thumbnail_cost(photo, ctx.plan.images.thumbnail_repeat, ctx.work_dir)
    ceiling = cost["ceiling"]
    ctx.progress(f"images thumbnail: {cost['service']['cpu_ms']} ms CPU, "
                 + (f"vipsthumbnail {ceiling['cpu_ms']} ms ({cost['ratio']}x)" if ceiling
                    else "vipsthumbnail not installed: not measured"))
    return {"figure": "thumbnail", "repeat": ctx.plan.images.thumbnail_repeat, **cost}


def _camera_upload_row(ctx: Context, body: bytes, content_type: str, photo_bytes: int) -> dict[str, Any]:
    concurrency = ctx.plan.images.upload_concurrency
    args = [str(_write(ctx.work_dir / "images-camera.body", body)), content_type, UPLOAD_OK]
    targets = {**_baseline_target(ctx), "service": ctx.graphql,
               "store_ceiling": f"{ctx.ceiling.proxy_url}/graphql?store"}
    if ctx.plan.warmup_seconds:
        run_wrk(ctx.graphql, "post.lua", args, concurrency, ctx.plan.warmup_seconds, ctx.stack.auth)
    runs = _timed_uploads(ctx, targets, args, concurrency, photo_bytes)
    service, stored = median_of(runs["service"]), median_of(runs["store_ceiling"])
    row: dict[str, Any] = {"figure": "upload", "concurrency": concurrency, "service": service,
                           "store_ceiling": stored, "ratio": ratio(service["rps"], stored["rps"]), "runs": runs}
    _beside_baseline(row, runs)
    ctx.progress(f"images upload c={concurrency}: {service['rps']} req/s, store-only ceiling {stored['rps']} req/s"
                 + _baseline_note(row) + f", errors {service['errors']}")
    return row


def _camera_memory_row(ctx: Context, body: bytes, content_type: str) -> dict[str, Any]:
    plan = ctx.plan.images
    result, idle, peaks = _uploads_at_once(ctx, body, content_type, plan.memory_clients,
                                           plan.memory_clients * plan.memory_uploads_per_client)
    idle_mb, peak_mb = max(idle.values()), max(peaks.values())
    ctx.progress(f"images memory {plan.memory_clients} clients: worker peaks {sorted(peaks.values())} MB "
                 f"(idle {sorted(idle.values())} MB), {result['ok']}/{result['uploads']} stored")
    return {"figure": "memory", "clients": plan.memory_clients, **result,
            "worker_idle_rss_mb": sorted(idle.values()), "worker_peak_rss_mb": sorted(peaks.values()),
            "decoded_frame_mb": round(plan.photo_size[0] * plan.photo_size[1] * 3 / 1e6, 1),
            "service": {"max_peak_rss_mb": peak_mb, "errors": result["errors"]},
            "reference": {"max_idle_rss_mb": idle_mb}, "ratio": ratio(peak_mb, idle_mb)}


def _page_row(ctx: Context, body: bytes, content_type: str) -> dict[str, Any]:
    plan = ctx.plan.images
    # Uploaded last, so the newest page is exactly these photos, whatever ran before.
    uploaded = FixedUploads(HOST, ctx.stack.port, body, content_type, plan.upload_concurrency,
                            plan.page_images, headers=ctx.stack.auth).run()
    if uploaded["ok"] != plan.page_images:
        raise BenchError(f"images page: {uploaded['ok']}/{plan.page_images} photos stored")
    nodes = first_page(ctx.graphql, plan.page_images, ctx.stack.auth)
    if len(nodes) != plan.page_images or any(node["filename"] != CAMERA_FILENAME for node in nodes):
        raise BenchError(f"images page: the first {plan.page_images} images are not the photos just uploaded")
    weight = page_weight(nodes)
    ctx.progress(f"images page of {len(nodes)}: thumbnails {weight['service']['thumbnail_bytes']:,} bytes, "
                 f"originals {weight['originals_bytes']:,} bytes")
    return {"figure": "page", "images": len(nodes), "uploads": uploaded, **weight}


# -- abuse -----------------------------------------------------------------------------------

def abuse(ctx: Context) -> list[dict[str, Any]]:
    """Issue 12's attacks against the stack and (full run) `imagehost serve`; see bench/abuse.py."""
    plan = ctx.plan.abuse
    targets: dict[str, tuple[Target, Filler]] = {}
    serve: Serve | None = None
    try:
        if "stack" in plan.targets:
            targets["stack"] = (ctx.stack, ctx.filler)
        if "serve" in plan.targets:
            serve = Serve(ctx.work_dir.parent / "serve")
            serve.images_dir.mkdir(parents=True)
            # Filled before it starts, so it starts on rows and files that agree.
            filler = Filler(serve.images_dir, ctx.work_dir / "serve-fill", ctx.samples[0].data)
            fill_to(filler, plan.images_first)
            serve.spawn()
            serve.wait_ready()
            targets["serve"] = (serve, filler)
        return run_abuse(plan, targets, ctx.progress)
    finally:
        if serve is not None:
            serve.stop()


SCENARIOS: dict[str, Callable[[Context], list[dict[str, Any]]]] = {
    "list": listing,  # first, on an empty catalog, so its sizes are exact
    "upload": upload,
    "floor": floor,
    "serve": serve,  # serves what `upload` stored
    "delete": delete,
    "memory": memory,
    "images": images,  # its page is the newest images, uploaded by it last
    "auth": auth,  # issue 13: default only with a baseline (see BASELINE_ONLY)
    "abuse": abuse,  # last: an attack that is not refused yet may leave a worker replaced
}
BASELINE_ONLY = frozenset({"auth"})
"""Scenarios a run includes by default only when it has a baseline (`--only` names them anyway)."""
