"""A cap on request bodies, enforced before and while they are read.

A declared Content-Length over the cap is refused before any byte is read; a chunked body is
counted as it streams and refused the moment it passes the cap, so nothing over the cap is
ever buffered. Only a multipart body (files) gets the upload cap; any other body is JSON, whose
own cap (`json_body.MAX_JSON_BYTES`) is applied here too, so a large one is not read whole first.

A body over the JSON cap but within the upload cap is read to its end and dropped before the
refusal goes out: a server that answers and closes while the client is still sending resets the
connection, and the client never sees the answer. Dropping costs bandwidth, never memory.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagehost.http.json_body import MAX_JSON_BYTES
from imagehost.http.refusals import refusal_response

MULTIPART = b"multipart/form-data"


class RequestBodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_json_bytes: int = MAX_JSON_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_bytes = max_json_bytes

    @staticmethod
    def _message(cap: int, multipart: bool) -> str:
        advice = "send fewer or smaller files per request" if multipart else "send a smaller GraphQL request"
        return f"The request body is larger than the {cap:,}-byte limit: {advice}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, multipart = _content_length_and_kind(scope)
        cap = self.max_body_bytes if multipart else self.max_json_bytes
        if declared is not None and declared > cap:
            if declared <= self.max_body_bytes:
                await _drop_body(receive, self.max_body_bytes)
            await refusal_response(413, self._message(cap, multipart), "PAYLOAD_TOO_LARGE")(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise RequestBodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except RequestBodyTooLarge:
            if response_started:
                raise
            if received <= self.max_body_bytes:
                await _drop_body(receive, self.max_body_bytes - received)
            await refusal_response(413, self._message(cap, multipart), "PAYLOAD_TOO_LARGE")(scope, receive, send)


async def _drop_body(receive: Receive, limit: int) -> None:
    """Read the rest of the body and drop it, until it ends or passes `limit` bytes."""
    dropped = 0
    while dropped <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _content_length_and_kind(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None: absent or not a number), and whether the body is multipart."""
    length: int | None = None
    multipart = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"content-type":
            multipart = value.lstrip().lower().startswith(MULTIPART)
    return length, multipart
