"""Helpers for the production-shape tests: HTTP calls, multipart bodies, process and log look-ups."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from PIL import Image

from bench.processes import children, descendants  # /proc walking, shared with the benchmark
from tests.support import auth_headers, require_tool

UPLOAD = "mutation($f: Upload!) { uploadImage(file: $f) { __typename ... on Image { id url size } ... on UploadError { code message } } }"
COUNT = "{ images(first: 1) { totalCount } }"


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def nginx_binary() -> str:
    return require_tool("nginx") if shutil.which("nginx") else require_tool("/usr/sbin/nginx")


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
            method: str | None = None, timeout: float = 10.0) -> Reply:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def post_json(url: str, query: str, headers: dict[str, str] | None = None) -> Reply:
    """As the admin of a server the tests started (its token), unless `headers` say otherwise."""
    body = json.dumps({"query": query}).encode()
    return request(url + "/graphql", body, {"Content-Type": "application/json", **auth_headers(url), **(headers or {})})


def png_bytes(width: int = 16, height: int = 16, pad_to: int | None = None) -> bytes:
    """A real PNG; with `pad_to`, exactly that many bytes (a tEXt chunk takes up the rest)."""
    from PIL.PngImagePlugin import PngInfo

    def encode(padding: int) -> bytes:
        info = PngInfo()
        if padding:
            info.add_text("pad", "x" * padding)
        out = io.BytesIO()
        Image.new("RGB", (width, height), (30, 120, 200)).save(out, "PNG", pnginfo=info)
        return out.getvalue()

    data = encode(0)
    if pad_to is None:
        return data
    overhead = len(encode(1)) - len(data) - 1  # the tEXt chunk's own bytes
    data = encode(pad_to - len(data) - overhead)
    assert len(data) == pad_to, (len(data), pad_to)
    return data


def multipart_upload(data: bytes, filename: str = "picture.png") -> tuple[bytes, str]:
    """A GraphQL multipart request for UPLOAD: operations, map, then the file."""
    boundary = uuid.uuid4().hex
    operations = json.dumps({"query": UPLOAD, "variables": {"f": None}})
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.f"]}}\r\n'.encode(),
        (f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="{filename}"\r\n'
         f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def multipart_of_size(total: int) -> tuple[bytes, str]:
    """A multipart upload whose body is exactly `total` bytes (the file is mostly padding)."""
    body, _ = multipart_upload(b"")
    return multipart_upload(b"\0" * (total - len(body)))


def upload(url: str, data: bytes, headers: dict[str, str] | None = None) -> Reply:
    """As the admin of a server the tests started (its token), unless `headers` say otherwise."""
    body, content_type = multipart_upload(data)
    return request(url + "/graphql", body, {"Content-Type": content_type, **auth_headers(url), **(headers or {})})


def worker_ports(stack_pid: int) -> dict[int, int]:
    """{port: pid} of the uvicorn workers a stack process runs."""
    ports = {}
    for pid in children(stack_pid):
        try:
            argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in argv and b"--port" in argv:
            ports[int(argv[argv.index(b"--port") + 1])] = pid
    return ports


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


_ACCESS_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) \d+ .*upstream=(?P<upstream>.*?) ustatus=.*"(?P<agent>[^"]*)"$')


def access_log(log_dir: Path, agent: str, expect: int = 1, timeout: float = 5.0) -> list[dict[str, str]]:
    """Nginx access-log entries of requests sent with User-Agent `agent`, once there are at least
    `expect` (Nginx writes a line when it closes the request, a little after answering a 413)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = []
        for line in (log_dir / "nginx" / "access.log").read_text().splitlines():
            match = _ACCESS_LINE.search(line)
            if match and match["agent"] == agent:
                entries.append(match.groupdict())
        if len(entries) >= expect or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


def processes_named(fragment: str) -> list[int]:
    """Pids whose command line contains `fragment` (to look for orphans)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if fragment.encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def run_quietly(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, **kwargs)
