"""Load generators: wrk (with the Lua scripts in `lua/`) for timed runs, and a small threaded
client for the memory scenario, which needs a fixed number of uploads rather than a duration.

wrk is C, one thread per core, and uses little CPU: on a two-core machine shared by client and
server that matters more than anything else about the client.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import BenchError

LUA = Path(__file__).resolve().parent / "lua"
WRK_TIMEOUT = "30s"  # wrk's default (2 s) would count a slow 2 MB upload at c=32 as an error


def settle_disk() -> None:
    """Write back what earlier runs left dirty in the page cache before the next timed run.

    A 3 s upload run writes up to ~1 GB of images, while the kernel starts writing back only
    past 10 % of RAM (or after 30 s): without this, whichever run crossed that line stalled
    for seconds while the runs before it were flushed (900 KB uploads at c=32 measured
    0–126 uploads/s that way, 230–250/s with it). Each run then measures the software, not
    the backlog of the ones before it; the disk's own sustained write speed is not measured.
    """
    os.sync()


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk was not found (apt-get install wrk)")
    return found


def run_wrk(url: str, script: str, args: list[str], connections: int, seconds: int,
            auth: dict[str, str] | None = None) -> dict[str, Any]:
    """One bounded wrk run; its figures (requests/s, latency percentiles in ms, errors...).
    `auth`: the server's Authorization header ({} or None: none), which the POST scripts send."""
    settle_disk()
    env = {**os.environ, "BENCH_AUTHORIZATION": (auth or {}).get("Authorization", "")}
    threads = max(1, min(connections, os.cpu_count() or 2, 2))
    command = [wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", WRK_TIMEOUT, "-s", str(LUA / script), url, "--", *args]
    if script == "delete.lua":
        command.append(str(threads))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False,
                              env=env)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(command)}") from None
    raw = next((line.removeprefix("BENCH-JSON ") for line in done.stdout.splitlines()
                if line.startswith("BENCH-JSON ")), None)
    if done.returncode != 0 or raw is None:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    report = json.loads(raw)
    sample = next((line.removeprefix("BENCH-SAMPLE ") for line in done.stdout.splitlines()
                   if line.startswith("BENCH-SAMPLE ")), "")
    elapsed = report["duration_us"] / 1e6
    socket_errors = sum(report["errors"][kind] for kind in ("connect", "read", "write", "timeout"))
    checked = report["checked"]
    ok = report["ok"] if checked else report["requests"] - report["errors"]["status"]
    errors = socket_errors + (report["bad"] if checked else report["errors"]["status"])
    latency = report["latency_us"]
    return {
        "requests": report["requests"],
        "ok": ok,
        "not_found": report["not_found"],
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p95_ms": round(latency["p95"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "bytes_read": report["bytes_read"],
        "first_bad_answer": sample.strip()[:300],
    }


@dataclass
class FixedUploads:
    """`total` uploads of one body by `clients` threads at once (each with its own connection)."""

    host: str
    port: int
    body: bytes
    content_type: str
    clients: int
    total: int
    ok_marker: bytes = b'"Image"'
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every upload besides Content-Type: the server's Authorization, if any."""
    results: list[tuple[int, bool]] = field(default_factory=list)

    def run(self, timeout: float = 120.0) -> dict[str, Any]:
        remaining = [self.total]
        lock = threading.Lock()
        start = time.monotonic()
        deadline = start + timeout

        def client() -> None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                while time.monotonic() < deadline:
                    with lock:
                        if remaining[0] <= 0:
                            return
                        remaining[0] -= 1
                    try:
                        connection.request("POST", "/graphql", self.body,
                                           {"Content-Type": self.content_type, **self.headers})
                        response = connection.getresponse()
                        answer = response.read()
                        outcome = (response.status, response.status == 200 and self.ok_marker in answer)
                    except (OSError, http.client.HTTPException):
                        connection.close()
                        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                        outcome = (0, False)
                    with lock:
                        self.results.append(outcome)
            finally:
                connection.close()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0) + 5)
        ok = sum(1 for _, good in self.results if good)
        return {"uploads": len(self.results), "ok": ok, "errors": len(self.results) - ok,
                "seconds": round(time.monotonic() - start, 2)}


class RssSampler:
    """Peak RSS of some processes: the kernel's own high-water mark (VmHWM, reset at start
    through /proc/<pid>/clear_refs), and RSS sampled every 10 ms as a cross-check."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.sampled: dict[int, int] = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        for pid in self.pids:
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset the peak RSS
            except OSError:
                pass
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            for pid in self.pids:
                self.sampled[pid] = max(self.sampled[pid], _status_kb(pid, "VmRSS"))

    def peaks_mb(self) -> dict[int, float]:
        """Per pid: the larger of VmHWM and the sampled maximum, in MB (10^6 bytes)."""
        return {pid: round(max(_status_kb(pid, "VmHWM"), self.sampled[pid]) * 1024 / 1e6, 1)
                for pid in self.pids}


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
