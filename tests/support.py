"""Helpers the test modules share: free ports, required tools, a real `imagehost serve`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BIN = Path(sys.executable).parent


def require_tool(path_or_name: str) -> str:
    """Return the tool's path; fail loudly in CI when it is missing, skip elsewhere."""
    found = path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) else shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed (run ./scripts/test, which installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers 200; fail early if `process` exits first."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            last_error = error
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error}")


@dataclass
class RunningServer:
    url: str
    images_dir: Path
    log_dir: Path
    process: subprocess.Popen[bytes]


def server_env(images_dir: Path, log_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEHOST_")}
    # A 1 MiB free-space floor rather than the 1 GiB default, so tests pass on a nearly full
    # disk too; a test of the floor sets its own.
    env.update(IMAGEHOST_IMAGES_DIR=str(images_dir), IMAGEHOST_LOG_DIR=str(log_dir), IMAGEHOST_MIN_FREE_BYTES="1048576")
    env.update({f"IMAGEHOST_{key.upper()}": value for key, value in settings.items()})
    return env


@contextmanager
def run_serve(tmp_path: Path, images_dir: Path | None = None, **settings: str) -> Iterator[RunningServer]:
    """Start a real `imagehost serve` on a free loopback port; stop it afterwards."""
    images_dir = images_dir or tmp_path / "images"
    log_dir = tmp_path / f"logs-{os.urandom(3).hex()}"
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "imagehost"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(images_dir, log_dir, **settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(url + "/healthz", process=process)
        except Exception:
            process.kill()
            stderr = process.communicate(timeout=10)[1].decode(errors="replace")
            raise RuntimeError(f"imagehost serve did not start:\n{stderr}") from None
        yield RunningServer(url, images_dir, log_dir, process)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    if process.stderr is not None:
        process.stderr.close()
