"""`python -m bench`: start the stack and the ceilings, run the scenarios, write the results."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from imagehost.settings import load_settings

from bench.baseline import baseline_installation
from bench.bodies import upload_samples
from bench.fill import Filler
from bench.processes import REPO, BenchError, Ceiling, Stack, nginx_binary
from bench.report import chart, markdown, update_docs
from bench.scenarios import BASELINE_ONLY, FULL, QUICK, SCENARIOS, Context
from bench.targets import evaluate, evaluate_auth, evaluate_images, evaluate_issue12


class _Stopped(Exception):
    pass


def _stop_on(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signal.Signals(signum).name)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1 s runs (the smoke test)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers (default: CPUs)")
    parser.add_argument("--seconds", type=int, help="length of each timed run (default 3; quick 1)")
    parser.add_argument("--repeat", type=int, help="runs per figure, median reported (default 3; quick 1)")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--docs", type=Path, default=REPO / "docs" / "performance.md",
                        help="page whose generated table is replaced")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/performance.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (images, logs) for a look")
    parser.add_argument("--max-seconds", type=int, default=1200, help="stop everything after this long")
    parser.add_argument("--baseline-worktree", type=Path, metavar="DIR",
                        help="another checkout (e.g. a git worktree of main): its stack is measured too, "
                             "interleaved with ours, in the upload, floor, images and auth scenarios")
    parser.add_argument("--label", help="appended to the results' file names (e.g. auth-e6e9b05)")
    parser.add_argument("--baseline-venv", type=Path, metavar="VENV",
                        help="the virtualenv the baseline is installed in (default DIR/.venv)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    plan = QUICK if args.quick else FULL
    plan = dataclasses.replace(plan, seconds=args.seconds or plan.seconds, repeat=args.repeat or plan.repeat)
    chosen = [name for name in SCENARIOS if name in args.only] if args.only else [
        name for name in SCENARIOS if name not in BASELINE_ONLY or args.baseline_worktree is not None]
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _stop_on)
    signal.alarm(args.max_seconds)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    load_before = _load()
    probe_before = _cpu_probe_ms()
    root = Path(tempfile.mkdtemp(prefix="imagehost-bench-"))
    stack = Stack(root / "stack", args.workers)
    baseline: Stack | None = None
    baseline_facts: dict[str, Any] | None = None
    ceiling: Ceiling | None = None
    scenarios: dict[str, Any] = {}
    try:
        if args.baseline_worktree is not None:
            installation, baseline_facts = baseline_installation(args.baseline_worktree, args.baseline_venv)
            baseline = Stack(root / "baseline", args.workers, installation)
            _say(f"baseline: {baseline_facts['commit']} from {baseline_facts['worktree']} "
                 f"(imagehost from {baseline_facts['imports_from']})")
        _say(f"run folder {root}; starting imagehost stack ({args.workers} workers) and the ceilings")
        stack.spawn()
        if baseline is not None:
            baseline.spawn()
        settings = load_settings(environ={"IMAGEHOST_IMAGES_DIR": str(stack.images_dir),
                                          "IMAGEHOST_LOG_DIR": str(stack.log_dir)}, env_file=root / "none")
        ceiling = Ceiling(root / "ceiling", args.workers, stack.images_dir, settings.max_body_bytes)
        ceiling.spawn_workers()  # both start at once: start-up is mostly importing
        samples = upload_samples()
        _say("samples: " + ", ".join(f"{s.name} = {len(s.data):,} bytes" for s in samples))
        stack.wait_ready()
        if baseline is not None:
            baseline.wait_ready()
        ceiling.start_nginx()
        _say(f"ready in {time.monotonic() - started:.1f} s: stack {stack.url}, "
             f"ceiling {ceiling.proxy_url} (proxy) and {ceiling.static_url} (static)"
             + (f", baseline {baseline.url}" if baseline is not None else ""))
        work = root / "work"
        work.mkdir()
        filler = Filler(stack.images_dir, work, samples[0].data)
        context = Context(plan, stack, ceiling, filler, work, samples, _say, baseline)
        for name in chosen:
            began = time.monotonic()
            try:
                scenarios[name] = SCENARIOS[name](context)
            except BenchError as error:
                scenarios[name] = {"error": str(error)}
                _say(f"{name} FAILED: {error}")
            _say(f"{name} took {time.monotonic() - began:.0f} s")
    except (KeyboardInterrupt, _Stopped) as stopped:
        _say(f"stopped ({stopped.__class__.__name__} {stopped}); stopping what was started")
        return 130
    except BenchError as error:
        _say(f"error: {error}")
        return 1
    finally:
        signal.alarm(0)
        if ceiling is not None:
            ceiling.stop()
        stack.stop()
        if baseline is not None:
            baseline.stop()
        if args.keep:
            _say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    results: dict[str, Any] = {
        "meta": {
            "started": started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 1),
            "quick": args.quick,
            "workers": args.workers,
            "cpus": os.cpu_count(),
            "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
            "nginx": _version([nginx_binary(), "-v"]),
            "wrk": _version(["wrk", "-v"]).split(" [")[0],
            "commit": _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
            "load_before": load_before,
            "load_after": _load(),
            "cpu_probe_ms": [probe_before, _cpu_probe_ms()],
            "plan": dataclasses.asdict(plan),
            "samples": {s.name: {"bytes": len(s.data), "file": s.filename} for s in samples},
            "baseline": baseline_facts,
        },
        "scenarios": scenarios,
    }
    measured = {k: v for k, v in scenarios.items() if isinstance(v, list)}
    results["targets"] = (evaluate(measured) + evaluate_issue12(measured) + evaluate_images(measured)
                          + evaluate_auth(measured))
    table = markdown(results)
    print("\n" + table)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = (started_at.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
             + (f"-{args.label}" if args.label else ""))
    text = json.dumps(results, indent=1) + "\n"
    (args.results_dir / f"{stamp}.json").write_text(text, encoding="utf-8")
    (args.results_dir / f"{stamp}.md").write_text(table, encoding="utf-8")
    (args.results_dir / "latest.json").write_text(text, encoding="utf-8")
    if not chart(results, args.results_dir / "latest.png"):
        _say("matplotlib is not installed: no chart (pip install -e '.[bench]')")
    if not args.no_docs:
        update_docs(args.docs, table)
    _say(f"wrote {args.results_dir / 'latest.json'}"
         f"{'' if args.no_docs else ' and ' + str(args.docs)} in {time.monotonic() - started:.0f} s")
    return 1 if any(isinstance(v, dict) for v in scenarios.values()) else 0


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _cpu_probe_ms() -> float:
    """Best of five runs of a fixed pure-Python loop, in ms: how fast the CPU is right now. Ratios
    cancel the machine's speed out, absolute figures (the list target) do not; this says which
    kind of day a run had."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if (done.stdout or done.stderr) else "?"


if __name__ == "__main__":
    sys.exit(main())
