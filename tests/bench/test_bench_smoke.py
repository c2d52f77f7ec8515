"""The benchmark still runs end to end, in its tiny `--quick` mode, so it cannot rot unnoticed:
every scenario reports figures, and those judged against a ceiling have one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import markdown
from tests.support import require_tool

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = ("list", "upload", "floor", "serve", "delete", "memory")


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_tool("wrk")
    require_tool("nginx" if shutil.which("nginx") else "/usr/sbin/nginx")
    results_dir = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-docs", "--results-dir", str(results_dir),
         "--max-seconds", "120"],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert (results_dir / "latest.png").exists() or "no chart" in done.stdout
    return dict(json.loads((results_dir / "latest.json").read_text()))


@pytest.mark.slow
def test_every_scenario_reports_figures(quick_results: dict[str, Any]) -> None:
    scenarios = quick_results["scenarios"]
    assert set(scenarios) == set(SCENARIOS)
    for name in SCENARIOS:
        rows = scenarios[name]
        assert isinstance(rows, list) and rows, (name, rows)
        for row in rows:
            assert row["service"], (name, row)
            assert "ratio" in row, (name, row)


@pytest.mark.slow
def test_figures_stand_beside_their_ceilings(quick_results: dict[str, Any]) -> None:
    scenarios = quick_results["scenarios"]
    for name in ("upload", "floor", "serve"):
        for row in scenarios[name]:
            assert row["service"]["rps"] > 0 and row["ceiling"]["rps"] > 0, (name, row)
            assert row["service"]["errors"] == 0 and row["ceiling"]["errors"] == 0, (name, row)
            assert row["ratio"] == pytest.approx(row["service"]["rps"] / row["ceiling"]["rps"], rel=0.01)
    assert {row["sample"] for row in scenarios["upload"]} == {"100KB-png", "900KB-jpeg", "2MB-jpeg"}
    for row in scenarios["upload"]:  # quick mode has one concurrency, the top one
        stored = row["store_ceiling"]
        assert stored["rps"] > 0 and stored["errors"] == 0, row
        assert row["store_ratio"] == pytest.approx(row["service"]["rps"] / stored["rps"], rel=0.01)
    for row in scenarios["list"]:
        assert row["service"]["p50_ms"] > 0 and row["service"]["server_p50_ms"] > 0, row
        assert row["service"]["errors"] == 0, row
    assert {row["page"] for row in scenarios["list"]} == {"first", "deep"}
    for row in scenarios["delete"]:
        assert row["service"]["ok"] > 0 and row["service"]["errors"] == 0, row
    for row in scenarios["memory"]:
        assert row["ok"] == row["uploads"] > 0, row
        assert row["service"]["max_peak_rss_mb"] > 0, row


@pytest.mark.slow
def test_targets_are_judged(quick_results: dict[str, Any]) -> None:
    targets = quick_results["targets"]
    assert len(targets) == 9
    assert all(target["met"] in (True, False, None) and target["goal"] for target in targets)


@pytest.mark.slow
def test_the_run_says_how_fast_the_cpu_was(quick_results: dict[str, Any]) -> None:
    before, after = quick_results["meta"]["cpu_probe_ms"]
    assert 0 < before < 60_000 and 0 < after < 60_000
    assert f"CPU probe) took {before} ms before, {after} ms after" in markdown(quick_results)
