"""`imagehost serve` as a user runs it: start-up line, clean stop, and crashes that lose nothing."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.imagedata import drawn_png
from tests.support import BIN, auth_headers, free_port, run_serve, server_env, token_for, wait_for_http


def stored_entries(images_dir: Path) -> list[str]:
    return sorted(p.name for p in images_dir.iterdir() if p.name != ".imagehost")


def total_count(url: str) -> int:
    request = urllib.request.Request(
        url + "/graphql", data=b'{"query": "{ images { totalCount } }"}',
        headers={"Content-Type": "application/json", **auth_headers(url)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)["data"]["images"]["totalCount"])


def test_serve_prints_its_url_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """On a first start without IMAGEHOST_ADMIN_PASSWORD, also the admin's random password: on
    the console once, in a file only its owner reads, and never in the log."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "imagehost"), "serve", "--port", str(port)],
        env=server_env(tmp_path / "images", tmp_path / "logs"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        created = process.stdout.readline()
        assert created.startswith("Imagehost created the account 'admin' with the password "), created
        password = created.strip().rsplit(" ", 1)[1]
        password_file = tmp_path / "images" / ".imagehost" / "initial-admin-password"
        assert password_file.read_text().strip() == password and len(password) >= 16
        assert password_file.stat().st_mode & 0o777 == 0o600
        assert str(password_file) in process.stdout.readline()
        line = process.stdout.readline()
        assert line.strip() == f"Imagehost is ready at http://127.0.0.1:{port}/ (GraphiQL at http://127.0.0.1:{port}/graphql)"
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        token_for(f"http://127.0.0.1:{port}", "admin", password)  # the printed password signs in
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal, as a daemon stopped by it should.
        assert process.wait(timeout=15) in {0, -signal.SIGTERM}
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
    log = (tmp_path / "logs" / "app.log").read_text()
    assert "imagehost.app started" in log and "imagehost.app stopped" in log  # the lifespan ran both ways
    assert password not in log


def test_a_crash_mid_upload_leaves_no_stray_file_and_no_entry(tmp_path: Path) -> None:
    images_dir = tmp_path / "images"
    boundary = "crashboundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n"
        '{"query": "mutation($f: Upload!) { uploadImage(file: $f) { __typename } }", "variables": {"f": null}}\r\n'
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n"
        '{"0": ["variables.f"]}\r\n'
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"big.png\"\r\n\r\n"
    ).encode() + drawn_png() + b"\x00" * (3 * 1024 * 1024)  # past the 1 MB spool: on disk when killed
    with run_serve(tmp_path, images_dir=images_dir) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Authorization: Bearer {server.token}\r\nContent-Length: {len(head) + 10_000_000}\r\n\r\n".encode()
            )
            sock.sendall(head)
            time.sleep(0.5)  # let the server stream what it got
            server.process.kill()
            server.process.wait(timeout=10)
    assert stored_entries(images_dir) == []

    with run_serve(tmp_path, images_dir=images_dir) as restarted:
        assert total_count(restarted.url) == 0
        assert stored_entries(images_dir) == []
        assert list((images_dir / ".imagehost" / "tmp").iterdir()) == []
