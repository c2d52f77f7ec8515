"""The clients of the `abuse` scenario: one HTTP/1.1 exchange on a raw socket from a chosen source
address (it stops sending as soon as the server answers, so an early refusal of a 50 MB request
is seen as one), and a crowd of connections that send their headers one byte a second.

Raw sockets rather than http.client: http.client sends the whole body before it reads, and a
server that refuses early and closes turns that into a broken pipe with the answer lost.
"""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ATTACKER = "127.0.0.2"
"""Source address of every attack; the server listens on 127.0.0.1 (all of 127/8 is local)."""
PROBE = "127.0.0.1"
"""Source address of the /healthz probes: another client."""
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def encode(self, host: str, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method == "POST":
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def post(body: bytes, content_type: str, auth: dict[str, str], path: str = "/graphql") -> RawRequest:
    """A POST with `auth` (the server's Authorization header, if any): a signed-in attacker, so
    each attack reaches the checks behind authentication rather than stopping at a 401."""
    return RawRequest("POST", path, (("Content-Type", content_type), *auth.items()), body)


@dataclass
class Exchange:
    """What came back for one request: the status (None when nothing came back), the body,
    client-side milliseconds from the first byte sent to the last byte read, and the error
    that ended it early, if any."""

    status: int | None
    body: bytes
    client_ms: float
    sent_bytes: int
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def exchange(host: str, port: int, request: bytes, timeout: float, source: str = ATTACKER) -> Exchange:
    """Send `request` on a new connection from `source` and read the answer, within `timeout` s.
    Sending stops as soon as the server answers or closes (an early refusal)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    sent = 0
    sending = True
    received = bytearray()
    error: str | None = None
    timed_out = False
    view = memoryview(request)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    error = f"no complete answer within {timeout:g} s"
                    timed_out = True
                    break
                events = selector.select(remaining)
                if not events:
                    continue
                mask = events[0][1]
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except (ConnectionResetError, ConnectionAbortedError):
                        error = error or "connection reset"
                        break
                    if not chunk:
                        break  # closed by the server: the answer is complete (Connection: close)
                    received += chunk
                    if sending:
                        sending = False
                        selector.modify(sock, selectors.EVENT_READ)
                    if _complete(received):
                        break
                elif sending and mask & selectors.EVENT_WRITE:
                    try:
                        sent += sock.send(view[sent:sent + _CHUNK])
                    except (BrokenPipeError, ConnectionResetError) as failure:
                        error = f"{failure.strerror} after {sent:,} of {len(request):,} bytes sent"
                        sending = False
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    if sent >= len(request):
                        sending = False
                        selector.modify(sock, selectors.EVENT_READ)
    except OSError as failure:
        error = failure.strerror or failure.__class__.__name__
    finally:
        view.release()
        sock.close()
    elapsed = (time.perf_counter() - started) * 1000
    status, headers, body = _parse(bytes(received))
    if status is not None and not timed_out:
        error = None  # a broken pipe or a reset after the server answered is how it refused
    return Exchange(status, body, round(elapsed, 2), sent, error, headers)


def _split(raw: bytes) -> tuple[bytes, bytes] | None:
    end = raw.find(b"\r\n\r\n")
    return None if end < 0 else (raw[:end], raw[end + 4:])


def _header_map(head: bytes) -> dict[str, str]:
    found = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        found[name.strip().lower()] = value.strip()
    return found


def _complete(raw: bytearray) -> bool:
    parts = _split(bytes(raw))
    if parts is None:
        return False
    length = _header_map(parts[0]).get("content-length")
    return length is not None and len(parts[1]) >= int(length)


def _parse(raw: bytes) -> tuple[int | None, dict[str, str], bytes]:
    parts = _split(raw)
    if parts is None:
        return None, {}, b""
    head, body = parts
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, {}, b""
    headers = _header_map(head)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)


# -- slow headers --------------------------------------------------------------------------------

@contextmanager
def open_files_at_least(needed: int) -> Iterator[int]:
    """Raise this process's RLIMIT_NOFILE soft limit to `needed` (up to the hard limit, or past
    it when root) for the block; the servers, started before, keep their own limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        wanted = min(max(soft, needed), hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield wanted
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class _Held:
    opened_at: float
    connected_at: float | None = None
    sent: int = 0


@dataclass
class SlowHeaders:
    """`connections` connections from `source` that each send a request header one byte every
    `byte_interval` seconds and never end it, for `hold_seconds`. A connection the server cuts
    off is opened again at the next byte (as an attacker would), up to 4 x `connections` in all.
    Figures: who got in, who was cut off and after how long, who was still held at the end."""

    host: str
    port: int
    connections: int
    hold_seconds: float
    byte_interval: float = 1.0
    connect_timeout: float = 3.0
    source: str = ATTACKER

    def run(self) -> dict[str, Any]:
        head = (f"GET /healthz HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nX-Slow: ".encode()
                + b"s" * 1_000_000)
        most = 4 * self.connections
        counts = {"opened": 0, "connected": 0, "connect_failed": 0, "connect_timed_out": 0}
        answers: dict[str, int] = {}
        cut_after: list[float] = []
        held: dict[socket.socket, _Held] = {}
        with open_files_at_least(self.connections + 256), selectors.DefaultSelector() as selector:

            def open_one() -> None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                counts["opened"] += 1
                try:
                    sock.bind((self.source, 0))
                    sock.setblocking(False)
                    code = sock.connect_ex((self.host, self.port))
                except OSError:
                    code = -1
                if code not in (0, errno.EINPROGRESS):
                    counts["connect_failed"] += 1
                    sock.close()
                    return
                held[sock] = _Held(time.monotonic())
                selector.register(sock, selectors.EVENT_WRITE)

            def drop(sock: socket.socket) -> None:
                selector.unregister(sock)
                sock.close()
                del held[sock]

            def send_byte(sock: socket.socket, state: _Held) -> None:
                try:
                    state.sent += sock.send(head[state.sent:state.sent + 1])
                except OSError:
                    cut_off(sock, state, "reset")

            def cut_off(sock: socket.socket, state: _Held, label: str) -> None:
                answers[label] = answers.get(label, 0) + 1
                cut_after.append((time.monotonic() - (state.connected_at or state.opened_at)) * 1000)
                drop(sock)

            started = time.monotonic()
            end = started + self.hold_seconds
            for _ in range(self.connections):
                open_one()
            next_byte = started + self.byte_interval
            while time.monotonic() < end:
                for key, _ in selector.select(max(0.0, min(next_byte, end) - time.monotonic())):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    state = held.get(sock)
                    if state is None:
                        continue
                    if state.connected_at is None:
                        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                            counts["connect_failed"] += 1
                            drop(sock)
                            continue
                        state.connected_at = time.monotonic()
                        counts["connected"] += 1
                        selector.modify(sock, selectors.EVENT_READ)
                        send_byte(sock, state)
                        continue
                    try:
                        data = sock.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    cut_off(sock, state, _status_label(data))
                if time.monotonic() >= next_byte:
                    next_byte += self.byte_interval
                    for sock, state in list(held.items()):
                        if state.connected_at is not None:
                            send_byte(sock, state)
                        elif time.monotonic() - state.opened_at > self.connect_timeout:
                            counts["connect_timed_out"] += 1
                            drop(sock)
                    for _ in range(min(self.connections - len(held), most - counts["opened"])):
                        open_one()  # the attacker comes back
            still_held = sum(1 for state in held.values() if state.connected_at is not None)
            for sock in list(held):
                drop(sock)
        return {
            "connections": self.connections,
            **counts,
            "cut": len(cut_after),
            "held_to_the_end": still_held,
            "answers": answers,
            "cut_after_ms_p50": round(statistics.median(cut_after), 1) if cut_after else None,
            "cut_after_ms_max": round(max(cut_after), 1) if cut_after else None,
            "seconds": round(time.monotonic() - started, 2),
        }


def _status_label(data: bytes) -> str:
    if not data:
        return "closed"
    parts = data.split(b" ", 2)
    return parts[1].decode("latin-1") if len(parts) > 1 and parts[0].startswith(b"HTTP/") else "other"
