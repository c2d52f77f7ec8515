"""The A/B baseline: another checkout of Imagehost (e.g. a git worktree of the last landed main),
run from its own virtualenv, so the bench can measure it interleaved with ours in one run.

Prepare one (once; pip fetches the dependencies, pinned to ours with a constraints file so
only the code differs):

    git -C . worktree add --detach /tmp/ih-main-47a1a48 47a1a48
    .venv/bin/pip freeze --exclude-editable > /tmp/ih-base-constraints.txt
    python3 -m venv /tmp/ih-base-venv
    /tmp/ih-base-venv/bin/pip install -c /tmp/ih-base-constraints.txt -e /tmp/ih-main-47a1a48
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.processes import BenchError, Installation

# Anything that would make the baseline's interpreter import our code instead of its own.
_LEAKING = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE")


def baseline_installation(worktree: Path, venv: Path | None) -> tuple[Installation, dict[str, Any]]:
    """The baseline's `imagehost`, checked to import from `worktree`; and facts for the results."""
    worktree = worktree.expanduser().resolve()
    venv = (venv or worktree / ".venv").expanduser().absolute()
    script, python = venv / "bin" / "imagehost", venv / "bin" / "python"
    if not worktree.is_dir():
        raise BenchError(f"--baseline-worktree {worktree} is not a folder (git worktree add --detach {worktree} COMMIT)")
    if not script.exists() or not python.exists():
        raise BenchError(f"no {script}: python3 -m venv {venv} && {venv}/bin/pip install -e {worktree}")
    env = {name: value for name, value in os.environ.items() if name not in _LEAKING}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as elsewhere:  # not our clone's folder: nothing from the cwd
        done = subprocess.run([str(python), "-c", "import imagehost; print(imagehost.__file__)"], env=env,
                              cwd=elsewhere, capture_output=True, text=True, timeout=60, check=False)
    imports_from = Path(done.stdout.strip()).resolve() if done.returncode == 0 else None
    if imports_from is None or not imports_from.is_relative_to(worktree):
        raise BenchError(f"{python} imports imagehost from {imports_from or done.stderr.strip()[-200:]}, "
                         f"not from {worktree}: pip install -e {worktree} into it")
    commit = _git(worktree, "rev-parse", "--short", "HEAD")
    facts = {"worktree": str(worktree), "venv": str(venv), "commit": commit, "imports_from": str(imports_from),
             "dirty": bool(_git(worktree, "status", "--porcelain", "--untracked-files=no"))}
    return Installation((str(script),), env, label=f"baseline {commit}"), facts


def _git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30,
                              check=False)
    except OSError:
        return "?"
    return done.stdout.strip() if done.returncode == 0 else "?"
