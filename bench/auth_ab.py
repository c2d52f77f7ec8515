"""The `auth` scenario (issue 13): what accounts cost. Uploads and the list page with a bearer
token on this tree, beside a baseline checkout from before accounts (`--baseline-worktree`,
e.g. a worktree of e6e9b05) measured signed out, interleaved run by run; and what signing in
costs (the app's argon2id hash and verify, and `signIn` round trips through the stack).

Each round of runs alternates which server goes first (baseline, ours; then ours, baseline ...),
so neither always follows the other's writeback or warm-up. Both catalogs hold the same number
of images when the list page is timed: each is filled to the larger of the two (ours owned by the
admin the token is of, so `images` pages through all of them, as the baseline's does).
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.accounts import hash_cost, sign_in_round_trips
from bench.bodies import UPLOAD_OK, multipart_upload
from bench.fill import Filler
from bench.loadgen import percentile, run_wrk
from bench.processes import Stack

if TYPE_CHECKING:
    from bench.scenarios import Context

# bench.scenarios imports this module (its Plan holds an AuthPlan, its registry `auth`), so what
# this module takes from it is imported where it is used.

_LOGGED = re.compile(r"method=\S+ path=(\S+) status=\d+ .*?duration_ms=([0-9.]+)")
FLOOR_BODY = json.dumps({"query": "{ __typename }"})


@dataclass(frozen=True)
class AuthPlan:
    samples: tuple[str, ...]
    """The upload samples compared (bench.bodies names)."""
    upload_concurrency: int
    list_images: int
    """Images in each catalog (at least) while the list page is timed."""
    hash_repeat: int
    sign_in_repeat: int


FULL_AUTH = AuthPlan(samples=("100KB-png", "900KB-jpeg"), upload_concurrency=32, list_images=10_000,
                     hash_repeat=7, sign_in_repeat=5)
QUICK_AUTH = AuthPlan(samples=("100KB-png", "900KB-jpeg"), upload_concurrency=8, list_images=200,
                      hash_repeat=2, sign_in_repeat=2)


def _rounds(servers: dict[str, Stack], repeat: int) -> list[list[tuple[str, Stack]]]:
    """`repeat` rounds over the servers, the order reversed every other round."""
    order = list(servers.items())
    return [order if number % 2 == 0 else order[::-1] for number in range(repeat)]


def sign_in_row(ctx: "Context") -> dict[str, Any]:
    plan: AuthPlan = ctx.plan.auth
    cost = hash_cost(plan.hash_repeat)
    trips = sign_in_round_trips(ctx.stack.url, plan.sign_in_repeat)
    ctx.progress(f"auth sign-in: argon2 ({cost['algorithm']} {cost['parameters']}) hash {cost['hash_ms']} ms, "
                 f"verify {cost['verify_ms']} ms; signIn through the stack p50 {trips['p50_ms']} ms")
    return {"figure": "sign-in", "service": {**cost, "sign_in_p50_ms": trips["p50_ms"],
                                             "sign_in_max_ms": trips["max_ms"]},
            "sign_in": trips, "ratio": None}


def _logged_ms(app_log: Path, offset: int) -> dict[str, list[float]]:
    """duration_ms of each request the app logged after byte `offset`, by path."""
    with app_log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    found: dict[str, list[float]] = {}
    for path, ms in _LOGGED.findall(text):
        found.setdefault(path, []).append(float(ms))
    return found


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _timed(ctx: "Context", servers: dict[str, Stack], args: list[str], concurrency: int, seconds: int,
           file_bytes: int = 0) -> dict[str, list[dict[str, Any]]]:
    """`repeat` interleaved wrk runs per server; each with the app's own p50 per path (from app.log:
    the upload itself at /graphql, and with Nginx's auth_request the gate at /auth/upload)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for round_ in _rounds(servers, ctx.plan.repeat):
        for name, server in round_:
            offset = server.app_log.stat().st_size
            run = run_wrk(f"{server.url}/graphql", "post.lua", args, concurrency, seconds, server.auth)
            logged = _logged_ms(server.app_log, offset)
            run["app_p50_ms"] = {path: _p50(times) for path, times in logged.items()}
            run["app_requests"] = {path: len(times) for path, times in logged.items()}
            if file_bytes:
                run["mbps"] = round(run["rps"] * file_bytes / 1e6, 2)
            runs[name].append(run)
    return runs


def _app_medians(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    paths = sorted({path for run in runs for path in run["app_p50_ms"]})
    return {path: _p50([run["app_p50_ms"][path] for run in runs if run["app_p50_ms"].get(path) is not None])
            for path in paths}


def floor_row(ctx: "Context", servers: dict[str, Stack]) -> dict[str, Any]:
    """`{ __typename }` as JSON (no upload, no auth_request): what the token check alone costs a request."""
    path = ctx.work_dir / "auth-floor.json"
    path.write_text(FLOOR_BODY)
    args = [str(path), "application/json", '"__typename"']
    concurrency = ctx.plan.auth.upload_concurrency
    if ctx.plan.warmup_seconds:
        for server in servers.values():
            run_wrk(f"{server.url}/graphql", "post.lua", args, 8, ctx.plan.warmup_seconds, server.auth)
    runs = _timed(ctx, servers, args, concurrency, ctx.plan.seconds)
    row = _beside(ctx, {"figure": "floor", "query": "{ __typename }", "concurrency": concurrency}, runs, "rps")
    for name in servers:
        row[name]["app_p50_ms"] = _app_medians(runs[name])
    ctx.progress(f"auth floor c={concurrency}: token {row['service']['rps']} req/s, baseline (no token) "
                 f"{row['baseline']['rps']} req/s: {row['ratio']}x")
    return row


def upload_rows(ctx: "Context", servers: dict[str, Stack]) -> list[dict[str, Any]]:
    plan: AuthPlan = ctx.plan.auth
    rows = []
    for sample in (s for s in ctx.samples if s.name in plan.samples):
        body, content_type = multipart_upload(sample.data, sample.filename)
        path = ctx.work_dir / f"auth-upload-{sample.name}.body"
        path.write_bytes(body)
        args = [str(path), content_type, UPLOAD_OK]
        if ctx.plan.warmup_seconds:
            for server in servers.values():
                run_wrk(f"{server.url}/graphql", "post.lua", args, 8, ctx.plan.warmup_seconds, server.auth)
        runs = _timed(ctx, servers, args, plan.upload_concurrency, ctx.plan.seconds, len(sample.data))
        row = _beside(ctx, {"figure": "upload", "sample": sample.name, "file_bytes": len(sample.data),
                            "concurrency": plan.upload_concurrency}, runs, "rps")
        for name in servers:
            row[name]["app_p50_ms"] = _app_medians(runs[name])
        ours, theirs = row["service"]["app_p50_ms"], row["baseline"]["app_p50_ms"]
        ctx.progress(f"auth upload {sample.name} c={plan.upload_concurrency}: token {row['service']['rps']} req/s, "
                     f"baseline (no token) {row['baseline']['rps']} req/s: {row['ratio']}x, "
                     f"errors {row['service']['errors']}/{row['baseline']['errors']}; app p50 /graphql "
                     f"{ours.get('/graphql')} vs {theirs.get('/graphql')} ms, /auth/upload {ours.get('/auth/upload')} ms")
        rows.append(row)
    return rows


def list_rows(ctx: "Context", servers: dict[str, Stack]) -> list[dict[str, Any]]:
    from bench.scenarios import LIST_QUERY, server_times

    plan: AuthPlan = ctx.plan.auth
    fillers = {"service": ctx.filler, "baseline": Filler(servers["baseline"].images_dir,
                                                         ctx.work_dir / "auth-baseline-fill", ctx.samples[0].data,
                                                         migrate=False)}
    size = max([plan.list_images] + [filler.total() for filler in fillers.values()])
    for filler in fillers.values():
        if size > filler.total():
            filler.add(size - filler.total(), "auth-list")
    ctx.progress(f"auth list: both catalogs at {size} images")
    rows = []
    for page in ("first", "deep"):
        args = {}
        for name, filler in fillers.items():
            after = filler.cursor_at(0.9) if page == "deep" else None
            path = ctx.work_dir / f"auth-list-{page}-{name}.json"
            path.write_text(json.dumps({"query": LIST_QUERY, "variables": {"after": after}}))
            args[name] = [str(path), "application/json", '"totalCount"']
        if ctx.plan.warmup_seconds and page == "first":
            for name, server in servers.items():
                run_wrk(f"{server.url}/graphql", "post.lua", args[name], 1, ctx.plan.warmup_seconds, server.auth)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for round_ in _rounds(servers, ctx.plan.repeat):
            for name, server in round_:
                offset = server.app_log.stat().st_size
                run = run_wrk(f"{server.url}/graphql", "post.lua", args[name], 1, ctx.plan.list_seconds, server.auth)
                times = server_times(server.app_log, offset)
                run.update(server_p50_ms=percentile(times, 0.5), server_p95_ms=percentile(times, 0.95),
                           server_requests=len(times))
                runs[name].append(run)
        row = _beside(ctx, {"figure": "list", "images": size, "page": page}, runs, "server_p50_ms")
        row["difference_ms"] = (None if row["service"].get("server_p50_ms") is None
                                or row["baseline"].get("server_p50_ms") is None
                                else round(row["service"]["server_p50_ms"] - row["baseline"]["server_p50_ms"], 2))
        ctx.progress(f"auth list {size} images, {page} page: server p50 token {row['service'].get('server_p50_ms')} ms, "
                     f"baseline (no token) {row['baseline'].get('server_p50_ms')} ms, "
                     f"difference {row['difference_ms']} ms")
        rows.append(row)
    return rows


def _beside(ctx: "Context", row: dict[str, Any], runs: dict[str, list[dict[str, Any]]], figure: str) -> dict[str, Any]:
    from bench.scenarios import median_of

    assert ctx.baseline is not None

    service, baseline = median_of(runs["service"]), median_of(runs["baseline"])
    value, reference = service.get(figure), baseline.get(figure)
    return {**row, "service": service, "baseline": baseline, "compared": figure,
            "token": bool(ctx.stack.token), "baseline_token": bool(ctx.baseline.token),
            "ratio": round(value / reference, 3) if value is not None and reference else None, "runs": runs}


def auth(ctx: "Context") -> list[dict[str, Any]]:
    """Sign-in's cost; with a baseline, uploads and the list page beside it (see the module)."""
    rows = [sign_in_row(ctx)]
    if ctx.baseline is None:
        ctx.progress("auth: no --baseline-worktree, so no A/B (sign-in cost only)")
        return rows
    if ctx.baseline.token:
        ctx.progress("auth: the baseline has accounts too: both are measured with a token")
    servers = {"baseline": ctx.baseline, "service": ctx.stack}
    return rows + list_rows(ctx, servers) + upload_rows(ctx, servers) + [floor_row(ctx, servers)]
