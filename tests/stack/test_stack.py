"""The production shape for real: `imagehost stack` (Debian's Nginx + uvicorn workers) on loopback."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stack.stack_helpers import (
    COUNT,
    access_log,
    alive,
    descendants,
    multipart_of_size,
    nginx_binary,
    png_bytes,
    post_json,
    request,
    upload,
    worker_ports,
)
from tests.renditions import IMAGE_QUERY, assert_every_key_is_served_alike, assert_other_names_are_not_found, store_photo
from tests.support import (
    ADMIN,
    ADMIN_PASSWORD,
    AUTH_BY_URL,
    BIN,
    free_port,
    require_tool,
    server_env,
    sign_in,
    stop_process,
    token_for,
    wait_for_http,
)

MAX_UPLOAD_BYTES = 300_000
MAX_FILES = 2
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BODY_CAP = MAX_FILES * (MAX_UPLOAD_BYTES + 64 * 1024) + 1024 * 1024  # Settings.max_body_bytes


@dataclass
class Stack:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    images_dir: Path
    log_dir: Path
    stderr: Path
    token: str = ""
    """An API token of the admin (made once the stack answered)."""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def running_stack(base: Path, workers: int = 2) -> Iterator[Stack]:
    nginx_binary()
    base.mkdir(parents=True, exist_ok=True)
    images_dir, log_dir = base / "images", base / "logs"
    port = free_port()
    env = server_env(images_dir, log_dir, max_upload_bytes=str(MAX_UPLOAD_BYTES), max_files=str(MAX_FILES),
                     allowed_hosts="photos.example.test", admin_password=ADMIN_PASSWORD)
    env["PATH"] = env.get("PATH", "") + os.pathsep + "/usr/sbin"
    stdout, stderr = base / "stack.out", base / "stack.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(BIN / "imagehost"), "stack", "--port", str(port), "--workers", str(workers)],
            env=env, cwd=base, stdout=out, stderr=err,
        )
    stack = Stack(f"http://127.0.0.1:{port}", port, process, images_dir, log_dir, stderr)
    try:
        deadline = time.monotonic() + 60
        while f"Imagehost is ready at {stack.url}/" not in stdout.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"imagehost stack did not start:\n{stderr.read_text()}")
            time.sleep(0.05)
        wait_for_http(stack.url + "/healthz", timeout=5, process=process)
        stack.token = token_for(stack.url, ADMIN, ADMIN_PASSWORD)
        AUTH_BY_URL[stack.url] = stack.auth
        yield stack
    finally:
        AUTH_BY_URL.pop(stack.url, None)
        stop_process(process)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def _query_url(stack: Stack, query: str = COUNT) -> str:
    return stack.url + "/graphql?" + urllib.parse.urlencode({"query": query})


def _app_log(stack: Stack) -> str:
    return (stack.log_dir / "app.log").read_text()


def test_requests_are_spread_over_the_workers(stack: Stack) -> None:
    agent = "spread-test"
    for _ in range(20):
        reply = request(_query_url(stack), headers={"Accept": "application/json", "User-Agent": agent})
        assert reply.status == 200, reply.body
    spread = Counter(entry["upstream"] for entry in access_log(stack.log_dir, agent, expect=20))
    print(f"20 queries over the workers: {dict(spread)}")
    assert sum(spread.values()) == 20
    assert len(spread) == 2 and min(spread.values()) >= 5, spread


def test_a_worker_keeps_an_idle_connection_open_past_uvicorns_default(stack: Stack) -> None:
    """uvicorn closes idle connections after 5 s by default while Nginx reuses them for up to a
    minute; an upload sent on a connection the worker was closing came back as a 502."""
    port = next(iter(worker_ports(stack.process.pid)))
    health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def ask(conn: socket.socket) -> int:
        conn.sendall(health)
        reply = http.client.HTTPResponse(conn)
        reply.begin()
        reply.read()
        return reply.status

    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        assert ask(conn) == 200
        time.sleep(6.5)
        closed_by_worker, _, _ = select.select([conn], [], [], 0)
        assert not closed_by_worker, "the worker closed a connection idle for 6.5 s"
        assert ask(conn) == 200


def test_a_killed_worker_costs_no_query_and_comes_back(stack: Stack) -> None:
    """SIGKILL a worker while one client queries continuously (GET) and another queries and
    uploads (POST) in turn. Nginx retries elsewhere every request the dead worker never answered
    (refused connects, stale keep-alive connections, a reset before the response header) and
    takes it out of rotation. The only request that may fail is one the victim was already
    answering when it died (response header sent, body cut: nothing can replay that), so at
    most one GET, right at the kill; no POST, since the poster waits until the victim is gone."""
    workers = worker_ports(stack.process.pid)
    assert len(workers) == 2, workers
    victim_port, victim_pid = min(workers.items())
    get_failures: list[tuple[float, str]] = []
    post_failures: list[str] = []
    counts = Counter[str]()
    stop_reading = threading.Event()

    def read_continuously() -> None:
        deadline = time.monotonic() + 10
        while not stop_reading.is_set() and counts["get"] < 400 and time.monotonic() < deadline:
            try:
                reply = request(_query_url(stack), headers={"Accept": "application/json", **stack.auth})
                if reply.status != 200 or "errors" in reply.json():
                    get_failures.append((time.monotonic(), f"{reply.status} {reply.body[:200]!r}"))
            except Exception as error:  # noqa: BLE001 - every failure counts
                get_failures.append((time.monotonic(), repr(error)))
            counts["get"] += 1

    reader = threading.Thread(target=read_continuously)
    reader.start()
    killed_at = dead_at = 0.0
    try:
        image = png_bytes()
        deadline = time.monotonic() + 10
        for i in range(60):
            if time.monotonic() > deadline:
                break
            if i == 10:
                os.kill(victim_pid, signal.SIGKILL)
                killed_at = time.monotonic()
                # Gone from /proc: the supervisor has reaped it, so all its threads have exited and
                # its sockets are closed (a zombie leader may still have threads holding them).
                while Path(f"/proc/{victim_pid}").exists() and time.monotonic() < killed_at + 5:
                    time.sleep(0.001)
                dead_at = time.monotonic()
            try:
                if i % 2:
                    reply = upload(stack.url, image)
                    ok = reply.status == 200 and reply.json()["data"]["uploadImage"]["__typename"] == "Image"
                else:
                    reply = post_json(stack.url, COUNT)
                    ok = reply.status == 200 and "errors" not in reply.json()
                if not ok:
                    post_failures.append(f"{reply.status} {reply.body[:200]!r}")
            except Exception as error:  # noqa: BLE001
                post_failures.append(repr(error))
            counts["post"] += 1
    finally:
        stop_reading.set()
        reader.join()

    assert killed_at, "the loop ended before the kill"
    assert not post_failures, post_failures
    assert len(get_failures) <= 1, get_failures
    assert all(killed_at <= at <= dead_at + 0.5 for at, _ in get_failures), (killed_at, dead_at, get_failures)
    # The supervisor starts a new worker on the same port, and it answers.
    back_at = None
    while time.monotonic() < killed_at + 30:
        new_pid = worker_ports(stack.process.pid).get(victim_port)
        if new_pid and new_pid != victim_pid:
            try:
                if request(f"http://127.0.0.1:{victim_port}/healthz", timeout=2).status == 200:
                    back_at = time.monotonic()
                    break
            except OSError:
                pass
        time.sleep(0.1)
    assert back_at is not None, "the killed worker did not come back"
    print(f"worker killed during {counts['get']} GET and {counts['post']} POST requests: "
          f"{len(get_failures)} GET failed ({[why for _, why in get_failures]}), 0 POST failed; "
          f"back in {back_at - killed_at:.1f} s")
    assert "was killed by SIGKILL; restarting" in stack.stderr.read_text()


def test_an_upload_over_the_cap_is_a_json_413_from_nginx(stack: Stack) -> None:
    body, content_type = multipart_of_size(BODY_CAP + 1)
    reply = request(stack.url + "/graphql", body, {"Content-Type": content_type, "User-Agent": "cap-test"})
    assert reply.status == 413
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert access_log(stack.log_dir, "cap-test")[-1]["upstream"] == "-"  # no worker saw it
    assert f"bytes_in={BODY_CAP + 1}" not in _app_log(stack)


def test_a_body_just_under_the_cap_reaches_the_app(stack: Stack) -> None:
    body, content_type = multipart_of_size(BODY_CAP)
    reply = request(stack.url + "/graphql", body, {"Content-Type": content_type, **stack.auth})
    assert reply.status == 200, reply.body[:300]
    assert f"bytes_in={BODY_CAP} " in _app_log(stack)


def test_an_image_just_under_the_file_limit_is_stored(stack: Stack) -> None:
    reply = upload(stack.url, png_bytes(64, 64, pad_to=MAX_UPLOAD_BYTES - 1))
    result = reply.json()["data"]["uploadImage"]
    assert result["__typename"] == "Image", result
    # The padding is a tEXt chunk, which the upload pipeline strips (issue 14).
    assert result["size"] == len(png_bytes(64, 64))


def test_images_come_from_nginx_with_the_contract_headers(stack: Stack) -> None:
    data = png_bytes(20, 10)
    image = upload(stack.url, data).json()["data"]["uploadImage"]
    path = urllib.parse.urlsplit(image["url"]).path
    app_log_before = _app_log(stack)

    reply = request(stack.url + path, headers={"User-Agent": "image-test"})
    assert reply.status == 200
    assert reply.body == data
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert reply.headers["ETag"] and reply.headers["Last-Modified"]
    assert reply.headers["Server"] == "nginx"

    partial = request(stack.url + path, headers={"Range": "bytes=0-9", "User-Agent": "image-test"})
    assert partial.status == 206
    assert partial.body == data[:10]
    assert partial.headers["Content-Range"] == f"bytes 0-9/{len(data)}"

    revalidated = request(stack.url + path, headers={"If-None-Match": reply.headers["ETag"]})
    assert revalidated.status == 304

    assert [entry["upstream"] for entry in access_log(stack.log_dir, "image-test", expect=2)] == ["-", "-"]
    assert path not in _app_log(stack)[len(app_log_before):]  # the bytes never passed through Python

    for missing in ("/images/AAAAAAAAAAAAAAAAAAAAAA.png", "/images/.imagehost/catalog.sqlite3",
                    path.replace(".png", ".jpg"), path + "x", "/images/"):
        not_found = request(stack.url + missing)
        assert (not_found.status, not_found.body) == (404, b"Not Found\n"), missing
        assert not_found.headers["Content-Type"] == "text/plain", missing


def test_every_key_of_an_image_comes_from_nginx_alike(stack: Stack) -> None:
    record, stored = store_photo(stack.images_dir)  # display JPEG, JPEG thumbnail, HEIC original
    image = post_json(stack.url, IMAGE_QUERY % json.dumps(record.id)).json()["data"]["image"]
    assert image["thumbnailUrl"] == f"{stack.url}/images/{record.thumbnail_key}"
    assert image["url"] == f"{stack.url}/images/{record.key}"
    app_log_before = _app_log(stack)
    assert_every_key_is_served_alike(stack.url, stored)
    assert_other_names_are_not_found(stack.url, record)
    assert record.id not in _app_log(stack)[len(app_log_before):]  # Nginx served them all, and refused the rest


def test_urls_use_the_host_and_scheme_the_client_used(stack: Stack) -> None:
    spoofing = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Forwarded": "proto=https"}
    reply = upload(stack.url, png_bytes(), headers={"Host": "photos.example.test:8443", **spoofing})
    url = reply.json()["data"]["uploadImage"]["url"]
    assert url.startswith("http://photos.example.test:8443/images/"), url

    listed = post_json(stack.url, "{ images(first: 1) { edges { node { url } } } }", spoofing)
    url = listed.json()["data"]["images"]["edges"][0]["node"]["url"]
    assert url.startswith(f"http://127.0.0.1:{stack.port}/images/"), url


def test_the_ui_is_served_by_nginx_with_security_headers(stack: Stack) -> None:
    page = request(stack.url + "/")
    assert page.status == 200 and b"<html" in page.body
    assert page.headers["Server"] == "nginx"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"

    script = request(stack.url + "/js/main.js", headers={"Accept-Encoding": "gzip"})
    assert script.headers["Content-Type"] == "text/javascript"
    assert script.headers.get("Content-Encoding") == "gzip"

    graphiql = request(stack.url + "/graphql", headers={"Accept": "text/html"})
    assert graphiql.status == 200 and b"graphiql" in graphiql.body.lower()
    assert "'sha256-" in graphiql.headers["Content-Security-Policy"]

    health = request(stack.url + "/healthz")
    assert health.status == 200 and health.json()["status"] == "ok"


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    with running_stack(tmp_path, workers=2) as stack:
        started = descendants(stack.process.pid)
        assert len(started) >= 4  # two workers, Nginx's master and at least one of its workers
        masters = [_cmdline(pid) for pid in started if _cmdline(pid).startswith("nginx: master")]
        assert len(masters) == 1, masters
        run_dir = Path(masters[0].split(" -p ", 1)[1].split()[0])
        assert (run_dir / "nginx.pid").is_file()
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(timeout=20) == 0
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in started if alive(pid)]
    with socket.socket() as sock:  # nothing listens on Nginx's port any more
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", stack.port))
    assert not run_dir.exists()  # the run folder (pid file, rendered config, temp files) is gone


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    nginx_binary()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(BIN / "imagehost"), "stack", "--port", str(port), "--workers", "1"],
            env=server_env(tmp_path / "images", tmp_path / "logs"), capture_output=True, text=True, timeout=30, check=False,
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], result.stderr


def test_the_ui_and_graphiql_work_under_the_csp_in_chromium(stack: Stack) -> None:
    chromium = require_tool("/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    watch_violations = """() => { window.__violations = [];
        document.addEventListener('securitypolicyviolation',
            e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI)); }"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            # Signed in (the Upload view is for account holders), as the UI's own sign-in leaves it.
            context.add_cookies([{"name": "imagehost_session", "value": sign_in(stack.url, ADMIN, ADMIN_PASSWORD),
                                  "url": stack.url}])
            page = context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.add_init_script(f"({watch_violations})()")

            page.goto(stack.url + "/", wait_until="networkidle")
            assert page.locator("#dropzone").is_visible()
            assert page.evaluate("window.__violations") == []

            query = urllib.parse.quote("{ images(first: 1) { totalCount } }")
            page.goto(f"{stack.url}/graphql?q={query}", wait_until="networkidle")
            page.locator(".graphiql-query-editor .CodeMirror").first.wait_for(timeout=15_000)
            page.locator(".graphiql-execute-button").click()
            page.locator(".graphiql-response", has_text="totalCount").wait_for(timeout=15_000)
            assert page.evaluate("window.__violations") == []
            assert not [text for text in console if "Content Security Policy" in text], console
        finally:
            browser.close()
