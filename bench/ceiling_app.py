"""The upload ceilings: an ASGI app that reads every request body and answers a small JSON shaped
like a successful `uploadImage`. Run by uvicorn with the stack's flags, behind the stack's own
Nginx template, it measures what Nginx + uvicorn alone can do with these bodies.

- `POST /graphql`: the body is discarded (the ceiling issue 5 sets the targets against);
- `POST /graphql?store`: the body is also written to a new file in `CEILING_STORE_DIR`, created,
  filled and closed as an upload's bytes must be. The gap between the two is what keeping the
  bytes on this machine's file system costs, which no app that stores uploads can avoid.

Plain ASGI rather than Starlette, so the ceiling carries no framework cost of its own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b'{"data":{"uploadImage":{"__typename":"Image","id":"ceiling"}}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
STORE_DIR = os.environ.get("CEILING_STORE_DIR")
_names = itertools.count()


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    store = STORE_DIR is not None and scope["query_string"] == b"store"
    handle = os.open(f"{STORE_DIR}/{os.getpid()}-{next(_names)}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644) if store else -1
    try:
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if handle >= 0:
                os.write(handle, message.get("body", b""))
            more_body = message.get("more_body", False)
    finally:
        if handle >= 0:
            os.close(handle)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
