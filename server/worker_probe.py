"""Is each worker of `imagehost stack` still answering? A hung worker (stopped, deadlocked, its
event loop stuck) keeps its process and its port, so the supervisor, which restarts workers that
exit, would never notice: this asks each worker `GET /healthz` on its loopback port, and calls a
worker hung after `HUNG_AFTER` unanswered probes in a row.

Any HTTP answer counts as alive, a 503 too: a worker that reports full storage is healthy as a
process, and replacing it would change nothing. Probes are non-blocking sockets that the
supervisor's one `select` waits on with its signals: no threads (the supervisor forks children
with a `preexec_fn`, which threads would make unsafe), and a hung worker delays nobody.

A worker is probed once it has answered after (re)starting; until then it is starting, and its
start-up is the supervisor's business.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

PROBE_EVERY = 2.0
"""Seconds between probes of a worker that answers."""
PROBE_TIMEOUT = 1.5
"""A worker's /healthz answers in milliseconds; 1.5 s unanswered is a missed probe."""
HUNG_AFTER = 3
"""Missed probes in a row (the next probe starts as soon as one is missed) that make a worker
hung: about 2 + 3 x 1.5 = 6.5 s from hanging to being killed at worst, and 4.5 s of
unresponsiveness that a merely busy worker would have to reach first."""
USER_AGENT = "imagehost-stack-probe"


@dataclass
class _Probe:
    sock: socket.socket
    started: float
    request: bytes
    sent: int = 0
    answer: bytes = b""
    failed: bool = False

    @property
    def sending(self) -> bool:
        return self.sent < len(self.request)


@dataclass
class WorkerProbes:
    """Probes of the workers listening on `host`: register a port when its worker (re)starts,
    hand `readers()`/`writers()` to select, then `advance()` with what select returned."""

    host: str
    every: float = PROBE_EVERY
    timeout: float = PROBE_TIMEOUT
    hung_after: int = HUNG_AFTER
    _answered: dict[int, bool] = field(default_factory=dict)
    _missed: dict[int, int] = field(default_factory=dict)
    _due: dict[int, float] = field(default_factory=dict)
    _running: dict[int, _Probe] = field(default_factory=dict)

    def started(self, port: int) -> None:
        """A worker (re)started on `port`: probe it, but count nothing until it has answered."""
        self._end(port)
        self._answered[port] = False
        self._missed[port] = 0
        self._due[port] = time.monotonic()

    def stopped(self, port: int) -> None:
        """The worker on `port` is gone (or being replaced): no more probes until it restarts."""
        self._end(port)
        self._answered.pop(port, None)
        self._missed.pop(port, None)
        self._due.pop(port, None)

    def readers(self) -> list[socket.socket]:
        return [probe.sock for probe in self._running.values() if not probe.sending]

    def writers(self) -> list[socket.socket]:
        return [probe.sock for probe in self._running.values() if probe.sending]

    def wait_at_most(self) -> float:
        """Seconds until the next probe is due or a running one times out."""
        now = time.monotonic()
        moments = [*self._due.values(), *(p.started + self.timeout for p in self._running.values())]
        return max(min(moments, default=now + self.every) - now, 0.0)

    def advance(self, ready: Iterable[socket.socket]) -> list[int]:
        """Progress the probes select found ready, start those due, time out the late ones;
        the ports whose workers are now hung (each reported once, then no longer probed)."""
        ready_set = set(ready)
        now = time.monotonic()
        hung = []
        for port, probe in list(self._running.items()):
            outcome = _step(probe) if probe.sock in ready_set else None
            if outcome is None and (probe.failed or now - probe.started >= self.timeout):
                outcome = False
            if outcome is None:
                continue
            self._finish(port, answered=outcome, now=now)
            if not outcome and self._answered.get(port) and self._missed[port] >= self.hung_after:
                hung.append(port)
        for port in hung:
            self.stopped(port)
        for port, due in list(self._due.items()):
            if port not in self._running and due <= now:
                self._running[port] = _connect(self.host, port, now)
        return hung

    def close(self) -> None:
        for port in list(self._running):
            self._end(port)

    def _finish(self, port: int, answered: bool, now: float) -> None:
        self._end(port)
        if answered:
            self._answered[port] = True
            self._missed[port] = 0
            self._due[port] = now + self.every
        else:
            if self._answered.get(port):
                self._missed[port] += 1
            # Missed: ask again at once, so a hang is confirmed in HUNG_AFTER timeouts. A worker
            # still starting (port not bound yet) is asked again after a pause.
            self._due[port] = now if self._answered.get(port) else now + min(self.every, 0.25)

    def _end(self, port: int) -> None:
        probe = self._running.pop(port, None)
        if probe is not None:
            probe.sock.close()


def _connect(host: str, port: int, now: float) -> _Probe:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    request = (f"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {USER_AGENT}\r\n"
               f"Connection: close\r\n\r\n").encode()
    probe = _Probe(sock, now, request)
    if sock.connect_ex((host, port)) not in (0, errno.EINPROGRESS):
        probe.failed = True
    return probe


def _step(probe: _Probe) -> bool | None:
    """One non-blocking step; True once an HTTP status line is back, False if the connection
    failed, None while waiting."""
    try:
        if probe.sending:
            if probe.sent == 0 and probe.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return False  # the connection was refused
            probe.sent += probe.sock.send(probe.request[probe.sent:])
            return None
        chunk = probe.sock.recv(256)
    except BlockingIOError:
        return None
    except OSError:
        return False
    if not chunk:
        return False
    probe.answer += chunk
    if b"\r\n" in probe.answer:
        return probe.answer.startswith(b"HTTP/1.")
    return None
