"""Request bodies are read at the client's pace, within limits: a client that sends its body a
byte a second is refused rather than holding a connection (and its half-parsed form) for hours.

uvicorn has no body read timeout. The limits are judged here, in the app, because only here is
it known whether the server is waiting for the client: uvicorn stops reading while the app has
not asked for more, so time counts only while the app waits in `receive()`. Two rules, after
Apache's mod_reqtimeout (`body=..,MinRate=..`):

- no wait for the next piece of a body may last longer than `idle_seconds`;
- after `grace_seconds` of waiting, the body must have come at `min_bytes_per_second` on
  average over the time waited (each KiB received buys another second).

A body too slow is a 408 with a GraphQL-shaped body and the connection closed. Also closed: a
connection whose answer starts before its body has been read (an early refusal), so the unread
rest of a body cannot keep it open byte by byte. Behind Nginx the rules still apply, and never
bite: Nginx buffers the whole body before a worker sees any of it.
"""

from __future__ import annotations

import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagehost.http.refusals import refusal_response

BODY_IDLE_SECONDS = 15.0
"""Longest wait for the next piece of a body: Nginx's client_body_timeout in the stack too."""
BODY_GRACE_SECONDS = 10.0
MIN_BODY_BYTES_PER_SECOND = 1024
"""1 KiB/s: a hundredth of a slow mobile uplink; a 10 MiB file at this rate takes under 3 hours."""


class BodyTooSlow(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BodyReadTimeout:
    """Pure ASGI middleware (no BaseHTTPMiddleware: the body stays a stream)."""

    def __init__(
        self,
        app: ASGIApp,
        idle_seconds: float = BODY_IDLE_SECONDS,
        grace_seconds: float = BODY_GRACE_SECONDS,
        min_bytes_per_second: float = MIN_BODY_BYTES_PER_SECOND,
    ) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self.grace_seconds = grace_seconds
        self.min_bytes_per_second = min_bytes_per_second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        body = _PacedBody(receive, self.idle_seconds, self.grace_seconds, self.min_bytes_per_second)
        response_started = False

        async def closing_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if not body.complete:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, body.receive, closing_send)
        except BodyTooSlow as slow:
            if response_started:
                raise  # uvicorn closes a connection whose app failed mid-answer
            response = refusal_response(408, slow.message, "REQUEST_TIMEOUT")
            response.headers["Connection"] = "close"
            await response(scope, receive, send)


class _PacedBody:
    def __init__(self, receive: Receive, idle_seconds: float, grace_seconds: float, min_rate: float) -> None:
        self._receive = receive
        self.idle_seconds = idle_seconds
        self.grace_seconds = grace_seconds
        self.min_rate = min_rate
        self.received = 0
        self.waited = 0.0
        self.complete = False

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()  # after the body: only http.disconnect, whenever it comes
        allowed = self.grace_seconds + self.received / self.min_rate - self.waited
        budget = min(self.idle_seconds, allowed)
        started = time.monotonic()
        message: Message | None = None
        with anyio.move_on_after(max(budget, 0.0)):
            message = await self._receive()
        self.waited += time.monotonic() - started
        if message is None:
            raise BodyTooSlow(self._why(budget >= self.idle_seconds))
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True  # disconnected: nothing more will come
        return message

    def _why(self, idle: bool) -> str:
        if idle:
            return (f"The request body stalled: nothing arrived for {self.idle_seconds:g} s "
                    f"({self.received:,} bytes in all).")
        return (f"The request body came too slowly: {self.received:,} bytes in {self.waited:.0f} s; "
                f"the server needs {self.min_rate:,.0f} bytes a second after the first "
                f"{self.grace_seconds:g} s.")


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
    return False
