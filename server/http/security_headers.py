"""The browser-hardening headers, in one table that `imagehost serve` and Nginx both read.

`SecurityHeaders` (a pure ASGI middleware) sends them from `imagehost serve` and from every
worker; `imagehost.nginx_config` renders the same table and policies into Nginx's configuration,
which sends them for what Nginx serves and in place of the workers' copies.

Which Content-Security-Policy a response gets depends on what it is (`csp_kind`): image bytes
get a sandbox that allows nothing but the image; the GraphiQL page (HTML at /graphql) allows its
one inline script by hash; everything else, the UI first, allows same-origin files only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"
GRAPHQL_PATH = "/graphql"
IMAGES_PREFIX = "/images/"

SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors 'none' in every CSP says the same to newer browsers
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
"""Sent on every response, whatever its kind."""

IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
"""Image bytes opened as a page: the image shows (a browser's viewer styles it inline), nothing runs."""

MAX_GRAPHIQL_PAGE_BYTES = 1024 * 1024
"""The GraphiQL page is held whole to hash its inline script; a page larger than this is sent
with no script allowed rather than held."""

_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


class CspKind(Enum):
    UI = "ui"
    GRAPHIQL = "graphiql"
    IMAGE = "image"


def csp_kind(path: str, content_type: str) -> CspKind:
    """Which policy a response gets (Nginx's `map $imagehost_csp` encodes the same rule)."""
    if path.startswith(IMAGES_PREFIX):
        return CspKind.IMAGE
    if path == GRAPHQL_PATH and content_type.startswith("text/html"):
        return CspKind.GRAPHIQL
    return CspKind.UI


def ui_csp(public_url: str | None) -> str:
    """The UI: same-origin ES modules and styles, no inline script; previews are blob:/data:."""
    image_sources = "'self' data: blob:"
    if public_url:
        parts = urlsplit(public_url)
        image_sources += f" {parts.scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {image_sources}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def graphiql_csp(script_hashes: Sequence[str]) -> str:
    """Strawberry's GraphiQL page: its inline script (allowed by its hash), inline styles."""
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *script_hashes]),
        # The page has a <style> block, and GraphiQL's editors add style elements at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """CSP hash sources for every inline <script> in `html`, in page order."""
    hashes = []
    for attributes, body in _INLINE_SCRIPT.findall(html):
        if re.search(r"\bsrc\s*=", attributes, re.IGNORECASE):
            continue
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return tuple(dict.fromkeys(hashes))


@lru_cache(maxsize=4)
def _graphiql_csp_for_page(page: bytes) -> str:
    # The page is the same on every request: hashed once, not per request.
    return graphiql_csp(inline_script_hashes(page.decode("utf-8", errors="replace")))


class SecurityHeaders:
    """Adds the table's headers and the right CSP to every HTTP response (replacing any the app set).

    The GraphiQL page is hashed as it is sent, so its policy always fits the page Strawberry
    renders, as Nginx's does (the stack hashes the page a worker serves at start).
    """

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        table = [_encoded(name, value) for name, value in SECURITY_HEADERS.items()]
        self.headers = {
            CspKind.UI: [*table, _encoded(CSP, ui_csp(public_url))],
            CspKind.IMAGE: [*table, _encoded(CSP, IMAGE_CSP)],
            CspKind.GRAPHIQL: table,  # and the policy, once the page is known
        }
        self.replaced = frozenset(name for name, _value in self.headers[CspKind.UI])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        held_start: Message | None = None
        held_body: list[bytes] = []
        held_bytes = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal held_start, held_bytes
            if message["type"] == "http.response.start":
                # ASGI header names are lower-case: one pass drops the app's copies of ours.
                content_type = b""
                headers = []
                for name, value in message.get("headers", ()):
                    if name == b"content-type":
                        content_type = value
                    if name not in self.replaced:
                        headers.append((name, value))
                kind = csp_kind(path, content_type.decode("latin-1"))
                message = {**message, "headers": headers + self.headers[kind]}
                if kind is CspKind.GRAPHIQL:
                    held_start = message  # its policy needs the page's script hashes
                    return
            elif held_start is not None and message["type"] == "http.response.body":
                held_body.append(message.get("body", b""))
                held_bytes += len(held_body[-1])
                if message.get("more_body", False) and held_bytes <= MAX_GRAPHIQL_PAGE_BYTES:
                    return
                start, held_start = held_start, None
                page = b"".join(held_body)
                policy = _graphiql_csp_for_page(page) if held_bytes <= MAX_GRAPHIQL_PAGE_BYTES else graphiql_csp(())
                start["headers"].append(_encoded(CSP, policy))
                await send(start)
                message = {**message, "body": page}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _encoded(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode("latin-1"), value.encode("latin-1")
