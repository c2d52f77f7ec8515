"""graphql-http's GraphQL-over-HTTP audit suite (`serverAudits`) against a live `imagehost serve`.

The Node side lives in tests/e2e/audit/ (package.json pins graphql-http and graphql exactly;
package-lock.json is committed; node_modules is git-ignored and installed here with `npm ci`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RunningServer, require_tool, run_serve

AUDIT_DIR = Path(__file__).resolve().parent / "audit"


@pytest.fixture(scope="module")
def audit_modules() -> Path:
    npm = require_tool("npm")
    if not (AUDIT_DIR / "node_modules" / "graphql-http" / "package.json").is_file():
        completed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, f"npm ci failed:\n{completed.stdout}\n{completed.stderr}"
    return AUDIT_DIR / "node_modules"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("audit")) as running:
        yield running


def test_graphql_over_http_audits_all_pass(audit_modules: Path, server: RunningServer) -> None:
    node = require_tool("node")

    completed = subprocess.run(
        [node, str(AUDIT_DIR / "audit.mjs"), server.url + "/graphql"],
        cwd=AUDIT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    counts = report["counts"]
    not_ok = [result for result in report["results"] if result["status"] != "ok"]
    for result in not_ok:
        status, name, reason = result["status"], result["name"], result["reason"]
        print(f"{status}: {name} ({result['id']}): {reason} [HTTP {result['status_code']}]")
    print(f"graphql-http audits: {counts}")
    assert counts["ok"] == len(report["results"]) >= 50
    assert (counts["error"], counts["warn"], counts["notice"]) == (0, 0, 0), not_ok
