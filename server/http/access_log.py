"""One line in app.log per request: who, what, outcome, bytes and duration."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagehost.http.forwarded import Networks, client_address

logger = logging.getLogger("imagehost.access")

VIEWER_SCOPE_KEY = "imagehost.viewer"
"""Where the GraphQL view leaves the request's Viewer for this line."""


class AccessLog:
    def __init__(self, app: ASGIApp, trusted_proxies: Networks) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        sent = 0
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, recording_send)
        finally:
            request = Request(scope)
            viewer = scope.get(VIEWER_SCOPE_KEY)  # set by the GraphQL view once it knows who asks
            logger.info(
                "request client=%s method=%s path=%s status=%d bytes_in=%d bytes_out=%d duration_ms=%.1f user=%s",
                client_address(request, self.trusted_proxies),
                scope["method"],
                scope["path"],
                status,
                received,
                sent,
                (time.perf_counter() - started) * 1000,
                viewer.user.username if viewer is not None else "-",
            )
