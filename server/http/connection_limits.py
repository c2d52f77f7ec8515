"""What one connection to `imagehost serve` may do before the app sees a request.

uvicorn reads a request's head (request line and headers) with no size limit and no deadline,
and takes any number of connections from one client: a 50 MB header line got a 200, and a
client sending a byte a second held its connection for as long as it liked. `imagehost serve`
therefore runs uvicorn's own HTTP protocol (httptools) as `GuardedHttpProtocol`, which sees the
bytes first, through the asyncio Protocol methods only, and feeds them to a second httptools
parser of its own: that parser says where each request's head starts and ends, and nothing of
uvicorn's inner state is read. Per connection:

- a head must be complete within `head_timeout` of the connection opening (its first request)
  or of the head's first byte (later requests; the wait between requests is uvicorn's
  keep-alive timeout). Too slow: a 408 and the connection closed; a connection that sent
  nothing, or one that may have a response in flight, is closed without an answer;
- a head over `max_head_bytes` is a 431 and the connection closed, before uvicorn buffers it;
- a client address (an IPv6 client's /64) holds at most `max_connections_per_client` open
  connections; one more is a 429 and closed at once. Trusted proxies are exempt: every client
  of an operator's own reverse proxy arrives from its address, and the proxy is where those
  clients are told apart.

The pace of request bodies is judged by `imagehost.http.read_timeouts`, in the app: only there is
it known whether the server is waiting for the client or the client for the server. Workers
behind Nginx run uvicorn's plain protocol: Nginx is their edge and applies the same limits
(client_header_timeout, large_client_header_buffers, limit_conn).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from typing import ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from imagehost.http.forwarded import Networks
from imagehost.http.security_headers import SECURITY_HEADERS

logger = logging.getLogger("imagehost.connections")

HEAD_TIMEOUT_SECONDS = 10.0
"""A head is one packet from any real client; 10 s covers a stalled mobile link, and holds a
slow attacker's connection a sixth as long as Nginx's default (60 s)."""
MAX_HEAD_BYTES = 64 * 1024
"""Request line and headers together. Browsers send a few KB (cookies included); Nginx in the
stack allows 4 lines of 16 KB."""
MAX_CONNECTIONS_PER_CLIENT = 32
"""Open connections per client address. A browser opens at most 6 per origin, the UI uploads 3
files at a time: 32 leaves room for several people behind one NAT, and keeps one client from
holding the server's file descriptors."""

LINGER_SECONDS = 1.0
"""How long a refused connection is kept half-closed so that its answer is read."""


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout: float = HEAD_TIMEOUT_SECONDS
    max_head_bytes: int = MAX_HEAD_BYTES
    max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT
    exempt: Networks = ()
    """Peers the per-client cap does not apply to (IMAGEHOST_TRUSTED_PROXIES)."""


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """An HTTP protocol class for uvicorn's `http=` option: uvicorn's own, held to `limits`.
    Each call makes a class with its own count of connections per client (one per server)."""

    class Guarded(GuardedHttpProtocol):
        connection_limits = limits
        open_per_client = Counter()

    return Guarded


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol behind `_HeadGuard`; only the asyncio Protocol methods are
    extended, and each calls uvicorn's own."""

    connection_limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    open_per_client: ClassVar[Counter[str]] = Counter()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self.imagehost_guard = _HeadGuard(transport, self.connection_limits, self.open_per_client)

    def data_received(self, data: bytes) -> None:
        guard = self.imagehost_guard
        if guard.admit(data):
            super().data_received(data)
            guard.close_if_unreadable()

    def connection_lost(self, exc: Exception | None) -> None:
        self.imagehost_guard.release()
        super().connection_lost(exc)


class _HeadGuard:
    """One connection's limits. It is also the callback object of its own httptools parser."""

    def __init__(self, transport: asyncio.Transport, limits: ConnectionLimits, open_per_client: Counter[str]) -> None:
        self.transport = transport
        self.limits = limits
        self.open_per_client = open_per_client
        self.parser = httptools.HttpRequestParser(self)
        # The leniency uvicorn sets on its parser, so both parsers read the bytes alike.
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.in_head = False
        self.head_bytes = 0
        """Bytes of the request target, header names and values of the head being read."""
        self.unfinished_bytes = 0
        """Bytes received since the head being read began, while it is still incomplete."""
        self.heads = 0
        self.oversized = False
        self.unreadable = False
        self.done = False
        self.peer = _peer(transport)
        self.client = _client_key(self.peer, limits.exempt)
        self.deadline: asyncio.TimerHandle | None = None
        if self.client is not None:
            if open_per_client[self.client] >= limits.max_connections_per_client:
                self.client = None  # not counted, so not released either
                self._refuse(HTTPStatus.TOO_MANY_REQUESTS, "TOO_MANY_CONNECTIONS",
                             f"Too many open connections from your address (at most "
                             f"{limits.max_connections_per_client}); close some and try again.")
                return
            open_per_client[self.client] += 1
        self.deadline = asyncio.get_running_loop().call_later(limits.head_timeout, self._too_slow)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_head = True
        self.head_bytes = 0
        self.unfinished_bytes = 0
        if self.deadline is None:
            self.deadline = asyncio.get_running_loop().call_later(self.limits.head_timeout, self._too_slow)

    def on_url(self, url: bytes) -> None:
        self.head_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.heads += 1
        self._stop_deadline()
        if self.head_bytes > self.limits.max_head_bytes:
            self.oversized = True

    # -- the protocol's side ---------------------------------------------------------------

    def admit(self, data: bytes) -> bool:
        """Whether uvicorn may have these bytes; if not, the connection has been refused."""
        if self.done:
            return False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # uvicorn answers the request and ignores the rest, as this parser does
        except httptools.HttpParserError:
            # Not HTTP/1.1: uvicorn's parser fails on the same bytes and answers its 400 (and
            # if it did not, close_if_unreadable ends the connection: no unguarded bytes).
            self._finish()
            self.unreadable = True
            return True
        if self.in_head:
            self.unfinished_bytes += len(data)
        if self.oversized or (self.in_head and self.unfinished_bytes > self.limits.max_head_bytes):
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE",
                         f"The request line and headers are larger than the server accepts "
                         f"({self.limits.max_head_bytes:,} bytes).")
            return False
        return True

    def close_if_unreadable(self) -> None:
        if self.unreadable and not self.transport.is_closing():
            self.transport.close()

    def release(self) -> None:
        self._finish()
        if self.client is not None:
            self.open_per_client[self.client] -= 1
            if not self.open_per_client[self.client]:
                del self.open_per_client[self.client]
            self.client = None

    def _too_slow(self) -> None:
        self.deadline = None
        if self.in_head and self.heads == 0:
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, "REQUEST_TIMEOUT",
                         f"The request headers did not arrive within {self.limits.head_timeout:g} s.")
        else:
            logger.info("connection closed client=%s reason=%s", self.peer, "no complete request head in time")
            self._finish()
            self.transport.close()

    def _refuse(self, status: HTTPStatus, code: str, message: str) -> None:
        logger.info("connection refused client=%s status=%d code=%s", self.peer, status, code)
        self._finish()
        if self.transport.is_closing():
            return
        self.transport.write(_refusal(status, code, message))
        # A lingering close, as Nginx does: closing with the client's bytes still unread would
        # reset the connection, and the reset can destroy the answer before the client reads
        # it. So: end our side, drop what still comes (admit() refuses it), close soon.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _finish(self) -> None:
        self.done = True
        self._stop_deadline()

    def _stop_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None


def _refusal(status: HTTPStatus, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer with a GraphQL-shaped body, written before any app could answer."""
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        "cache-control: no-store",
        *(f"{name.lower()}: {value}" for name, value in SECURITY_HEADERS.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _peer(transport: asyncio.Transport) -> str:
    peername = transport.get_extra_info("peername")
    return str(peername[0]) if isinstance(peername, tuple) and peername else "-"


def _client_key(peer: str, exempt: Networks) -> str | None:
    """What the per-client cap counts by: the IPv4 address, or the IPv6 /64 (one host's share
    of a network); None for a peer the cap does not apply to."""
    try:
        address: IPv4Address | IPv6Address = ip_address(peer)
    except ValueError:
        return None  # a Unix socket, or no address at all
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in exempt):
        return None
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, 64), strict=False))
    return str(address)
