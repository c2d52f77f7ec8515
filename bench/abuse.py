"""The `abuse` scenario (issue 12): each attack sent from 127.0.0.2, and what it cost.

Per attack and server shape (the stack; `imagehost serve` too in the full run): first a quiet
window of /healthz probes from 127.0.0.1 (the baseline, measured just before, so drift hits both
alike), then the attack with the same probes running. The attacker repeats a refused request
back to back while the attack window lasts (a bounded count); a request that is *not* refused
(executed, stored, failed, no answer) is sent once only, since it may cost the server seconds
or store thousands of images. Afterwards the bench waits until the workers are idle again (up
to `settle_seconds`); a worker still busy then is killed and replaced, and the row says so.

Figures: what came back (status, error code, whether it is GraphQL-shaped), server time per
request (the app's `duration_ms` in app.log; else Nginx's `$request_time`; else the client's
clock, which includes sending), /healthz p50/p99 during the attack and in the quiet window,
worker CPU time and peak-RSS growth, and the files and rows the attack stored.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from imagehost.storage import EXTENSIONS

from bench.attack_clients import ATTACKER, PROBE, RawRequest, exchange
from bench.attacks import AbusePlan, Attack, SlowCrowd, attacks
from bench.fill import Filler
from bench.health_probe import HealthProbe, quiet_figures
from bench.loadgen import RssSampler, percentile
from bench.processes import HOST, cpu_ms

IMAGE_SUFFIXES = frozenset(f".{extension}" for extension in EXTENSIONS.values())
_APP_LINE = re.compile(rf"client={re.escape(ATTACKER)} method=\S+ path=\S+ status=(\d+) .*?duration_ms=([0-9.]+)")
_EDGE_LINE = re.compile(rf"^{re.escape(ATTACKER)} \[[^]]*\] \"[^\n]*?\" (\d+) \d+ rt=([0-9.]+)", re.MULTILINE)
_TOTAL_QUERY = json.dumps({"query": "{ images(first: 1) { totalCount } }"}).encode()


class Target(Protocol):
    """A running server the attacks go to (bench.processes.Stack or Serve)."""

    port: int
    images_dir: Path
    app_log: Path
    edge_log: Path | None

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header the bench's requests carry (none on a server without accounts)."""
        ...

    def worker_pids(self) -> list[int]: ...

    def recover(self, busy: list[int]) -> str: ...


def stored(target: Target) -> dict[str, Any]:
    """Image files (and their bytes) in the images folder, and the catalog's totalCount."""
    files = size = 0
    with os.scandir(target.images_dir) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and os.path.splitext(entry.name)[1] in IMAGE_SUFFIXES:
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
    headers = (("Content-Type", "application/json"), *target.auth.items())
    answer = exchange(HOST, target.port, RawRequest("POST", "/graphql", headers, _TOTAL_QUERY).encode(HOST, target.port),
                      10.0, source=PROBE)
    total: int | None = None
    try:
        total = int(json.loads(answer.body)["data"]["images"]["totalCount"])
    except (ValueError, KeyError, TypeError):
        pass
    return {"files": files, "bytes": size, "total_count": total}


def _log_from(path: Path | None, offset: int) -> str:
    if path is None or not path.exists():
        return ""
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else 0


def settle(pids: list[int], cap: float) -> tuple[float, list[int]]:
    """Wait until every worker is idle (under 10 % CPU over 0.2 s); the seconds it took, and the
    workers still busy when `cap` ran out."""
    started = time.monotonic()
    while True:
        before = {pid: cpu_ms(pid) for pid in pids}
        time.sleep(0.2)
        busy = [pid for pid in pids if cpu_ms(pid) - before[pid] > 20.0]
        if not busy or time.monotonic() - started >= cap:
            return round(time.monotonic() - started, 2), busy


def _server_times(target: Target, offsets: tuple[int, int], client_ms: list[float],
                  sources: tuple[str, ...]) -> dict[str, Any]:
    app = [float(m[2]) for m in _APP_LINE.finditer(_log_from(target.app_log, offsets[0]))]
    edge = [float(m[2]) * 1000 for m in _EDGE_LINE.finditer(_log_from(target.edge_log, offsets[1]))]
    found = {"app": app, "nginx": edge, "client": client_ms}
    source, times = next(((name, found[name]) for name in sources if found[name]), ("client", client_ms))
    return {"server_ms_p50": round(statistics.median(times), 2) if times else None,
            "server_ms_max": round(max(times), 2) if times else None, "server_ms_source": source,
            "app_lines": len(app), "nginx_ms_max": round(max(edge), 2) if edge else None,
            "client_ms_p50": percentile(client_ms, 0.5), "client_ms_max": round(max(client_ms), 2) if client_ms else None}


def _cut_times(slow: dict[str, Any]) -> dict[str, Any]:
    """A crowd of held connections has no request to time: when the server cut them off instead."""
    return {"server_ms_p50": slow["cut_after_ms_p50"], "server_ms_max": slow["cut_after_ms_max"],
            "server_ms_source": "cut off after", "app_lines": 0, "nginx_ms_max": None,
            "client_ms_p50": None, "client_ms_max": None}


def measure(attack: Attack, target: Target, plan: AbusePlan) -> dict[str, Any]:
    pids = target.worker_pids()
    before = stored(target)
    quiet = quiet_figures(HOST, target.port, plan.quiet_seconds)
    offsets = (_size(target.app_log), _size(target.edge_log))
    cpu_before = {pid: cpu_ms(pid) for pid in pids}
    with RssSampler(pids) as rss, HealthProbe(HOST, target.port) as probe:
        idle = rss.peaks_mb()
        started = time.monotonic()
        result = attack.run(target.port, plan)
        # A window as long as the quiet one even when the attack was over sooner: enough probes
        # for a p99, and whatever the attack left the server doing shows.
        time.sleep(max(0.0, plan.attack_seconds - (time.monotonic() - started)))
    under_attack = probe.figures()
    growth = max((peak - idle.get(pid, peak) for pid, peak in rss.peaks_mb().items()), default=0.0)
    busy_seconds, busy = settle(pids, plan.settle_seconds)
    cpu_used = sum(max(0.0, cpu_ms(pid) - cpu_before[pid]) for pid in pids)  # a pid gone reads 0
    recovery = target.recover(busy) if busy else None
    after = stored(target)
    times = (_cut_times(result["slow"]) if isinstance(attack, SlowCrowd)
             else _server_times(target, offsets, result["client_ms"], attack.timed_by))
    budget = attack.budget_ms
    server_ms = times["server_ms_max"]
    added = {"files": after["files"] - before["files"], "bytes": after["bytes"] - before["bytes"],
             "total_count": None if after["total_count"] is None or before["total_count"] is None
             else after["total_count"] - before["total_count"]}
    service = {**times, **under_attack, "worker_cpu_ms": round(cpu_used, 1),
               "worker_rss_growth_mb": round(growth, 1), "files_stored": added["files"],
               "bytes_stored": added["bytes"], "rows_stored": added["total_count"]}
    return {
        "attack": attack.name, "what": attack.what, **{k: v for k, v in result.items() if k != "client_ms"},
        "service": service, "quiet": quiet,
        "ratio": _ratio(under_attack["healthz_p99_ms"], quiet["healthz_p99_ms"]),
        "stored": {"before": before, "after": after},
        "budget_ms": budget, "may_store": attack.may_store,
        "within_budget": None if budget is None else (
            bool(result["answer"]["handled"]) and server_ms is not None and server_ms <= budget),
        "busy_after_seconds": busy_seconds, "recovery": recovery,
    }


def _ratio(value: float | None, reference: float | None) -> float | None:
    return round(value / reference, 3) if value is not None and reference else None


def _line(row: dict[str, Any]) -> str:
    s, q, a = row["service"], row["quiet"], row["answer"]
    answer = f"{a['status'] or ''} {a['code'] or ''}".strip() or "-"
    server = "-" if s["server_ms_max"] is None else f"{s['server_ms_max']} ms"
    return (f"abuse {row['target']} {row['attack']}: {a['outcome']} ({answer}), server "
            f"{server} ({s['server_ms_source']}), /healthz p50/p99 {s['healthz_p50_ms']}/"
            f"{s['healthz_p99_ms']} ms, {s['healthz_failed']} failed (quiet {q['healthz_p50_ms']}/"
            f"{q['healthz_p99_ms']} ms); stored {s['files_stored']} files, {s['bytes_stored']:,} bytes"
            + (f"; {row['recovery']}" if row["recovery"] else ""))


def run_abuse(plan: AbusePlan, targets: dict[str, tuple[Target, Filler]],
              progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every attack against every target, one target after the other. Each target's catalog
    first gets at least `images_first` images, so the list attack has pages to build."""
    rows: list[dict[str, Any]] = []
    for name, (target, filler) in targets.items():
        fill_to(filler, plan.images_first)
        for attack in attacks(plan, target.auth):
            row = {"target": name, **measure(attack, target, plan)}
            progress(_line(row))
            rows.append(row)
    return rows


def fill_to(filler: Filler, count: int) -> None:
    missing = count - filler.total()
    if missing > 0:
        filler.add(missing, "abuse")
