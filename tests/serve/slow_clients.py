"""Clients that send too slowly or hold connections, for the HTTP-limit tests of both shapes
(`imagehost serve` and the stack). Raw sockets: what is measured is when the server gives up."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ATTACKER = "127.0.0.2"
"""Where the attacks come from; the servers listen on 127.0.0.1 and other clients use it too."""


@dataclass
class Cut:
    """How the server ended a slow client: the answer it sent, if any (status None: it closed
    without one), and the seconds from the start of the trickle until it answered or closed."""

    status: int | None
    body: bytes
    seconds: float
    sent: int

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, source: str = ATTACKER, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def trickle(sock: socket.socket, drip: bytes, interval: float = 1.0, limit: float = 30.0) -> Cut:
    """Send `drip` one byte every `interval` seconds until the server answers or closes the
    connection; after `limit` seconds give up (status None, seconds >= limit: a failed test).
    The socket is closed afterwards."""
    with sock:
        return _trickle(sock, drip, interval, limit)


def _trickle(sock: socket.socket, drip: bytes, interval: float, limit: float) -> Cut:
    started = time.monotonic()
    sent = 0
    next_byte = started
    received = b""
    while time.monotonic() - started < limit:
        if time.monotonic() >= next_byte and sent < len(drip):
            try:
                sent += sock.send(drip[sent:sent + 1])
            except OSError:
                break  # reset by the server
            next_byte += interval
        readable, _, _ = select.select([sock], [], [], max(0.0, min(next_byte - time.monotonic(), 0.2)))
        if readable:
            try:
                received = sock.recv(65536)
            except OSError:
                received = b""
            break
    seconds = time.monotonic() - started
    received += _rest(sock) if received else b""
    status, body = _status_and_body(received)
    return Cut(status, body, seconds, sent)


def read_answer(sock: socket.socket, timeout: float = 10.0) -> tuple[int | None, bytes]:
    """One whole answer with a Content-Length, on a connection that stays open."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return _status_and_body(head + b"\r\n\r\n" + body)


@contextmanager
def held_connections(port: int, count: int, source: str = ATTACKER) -> Iterator[list[socket.socket]]:
    """`count` connections from `source` that sent nothing yet; all closed afterwards."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(connect(port, source))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def answered(sock: socket.socket, wait: float = 0.0) -> tuple[int | None, bytes] | None:
    """The answer the server already sent on `sock` unasked (None if it sent nothing)."""
    if not select.select([sock], [], [], wait)[0]:
        return None
    try:
        data = sock.recv(65536)
    except OSError:
        return None, b""
    return _status_and_body(data + (_rest(sock) if data else b""))


def _rest(sock: socket.socket, wait: float = 2.0) -> bytes:
    """What else comes before the server closes (answers here all end with Connection: close)."""
    data = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _status_and_body(data: bytes) -> tuple[int | None, bytes]:
    if not data.startswith(b"HTTP/1."):
        return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
