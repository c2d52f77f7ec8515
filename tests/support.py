"""Helpers the test modules share: free ports, required tools, a real `imagehost serve`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
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


ADMIN = "admin"
ADMIN_PASSWORD = "test-admin-password"
"""What run_serve sets IMAGEHOST_ADMIN_PASSWORD to, unless a test gives its own."""
SESSION_COOKIE = "imagehost_session"
AUTH_BY_URL: dict[str, dict[str, str]] = {}
"""The admin's `Authorization` header for each server run_serve started (see auth_headers)."""


@dataclass
class RunningServer:
    url: str
    images_dir: Path
    log_dir: Path
    process: subprocess.Popen[bytes]
    token: str = ""
    """An API token of the admin, made over GraphQL once the server answered."""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def auth_headers(url: str) -> dict[str, str]:
    """The admin's bearer header for a server run_serve started at `url` (empty for others)."""
    return dict(AUTH_BY_URL.get(url.rstrip("/"), {}))


def post_graphql(url: str, query: str, variables: dict[str, object] | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[dict[str, object], dict[str, str]]:
    """One JSON GraphQL POST: the decoded body and the answer's headers (4xx bodies too)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/graphql", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read()), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        return json.loads(error.read()), dict(error.headers.items())


def sign_in(url: str, username: str, password: str) -> str:
    """Sign in as a browser would; the session cookie's value."""
    answer, headers = post_graphql(
        url, "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { __typename"
        " ... on SignInFailed { code message } } }", {"u": username, "p": password},
    )
    assert answer.get("data", {}).get("signIn", {}).get("__typename") == "SignedIn", answer  # type: ignore[union-attr]
    cookie = SimpleCookie(headers.get("set-cookie") or headers.get("Set-Cookie") or "")
    return cookie[SESSION_COOKIE].value


def session_headers(url: str, session: str) -> dict[str, str]:
    """What a same-origin page sends with a session: the cookie and its Origin."""
    return {"Cookie": f"{SESSION_COOKIE}={session}", "Origin": url.rstrip("/")}


def create_token(url: str, session: str, label: str = "tests") -> str:
    answer, _ = post_graphql(url, "mutation($l: String!) { createApiToken(label: $l) { secret } }", {"l": label},
                             headers=session_headers(url, session))
    assert "errors" not in answer, answer
    return str(answer["data"]["createApiToken"]["secret"])  # type: ignore[index]


def token_for(url: str, username: str, password: str, label: str = "tests") -> str:
    return create_token(url, sign_in(url, username, password), label)


def create_user(server: RunningServer, username: str, password: str, admin: bool = False) -> str:
    """A new account made by the admin over GraphQL; its id."""
    answer, _ = post_graphql(
        server.url, "mutation($u: String!, $p: String!, $a: Boolean!) { createUser(username: $u, password: $p, admin: $a)"
        " { __typename ... on User { id } ... on AccountError { code message } } }",
        {"u": username, "p": password, "a": admin}, headers=server.auth,
    )
    result = answer["data"]["createUser"]  # type: ignore[index]
    assert result["__typename"] == "User", answer
    return str(result["id"])


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
    settings.setdefault("admin_password", ADMIN_PASSWORD)
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
        token = token_for(url, ADMIN, settings["admin_password"])
        AUTH_BY_URL[url] = {"Authorization": f"Bearer {token}"}
        yield RunningServer(url, images_dir, log_dir, process, token)
    finally:
        AUTH_BY_URL.pop(url, None)
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
