"""The Host allow-list: a request naming a host the server does not answer to is refused.

This is what stops DNS rebinding: a page on evil.example whose name an attacker re-points at
127.0.0.1 talks to a loopback-bound server with `Host: evil.example` and a matching `Origin`,
which the cross-origin check alone would take for a same-origin page. It also keeps the base of
returned URLs (`request_origin`) to names the operator chose: `Host`, and `X-Forwarded-Host`
when a trusted proxy sent it, must both pass.

Starlette's TrustedHostMiddleware does the matching part of this, but answers in plain text and
knows nothing of forwarded headers; the patterns are the same (`name`, `*.domain`, `*`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from imagehost.hostnames import host_name
from imagehost.http.forwarded import Networks, forwarded_host
from imagehost.http.refusals import refusal_response

SETTING = "IMAGEHOST_ALLOWED_HOSTS"
REFUSAL_CODE = "HOST_NOT_ALLOWED"
_SHOWN_CHARACTERS = 100


class HostAllowList:
    def __init__(
        self, app: ASGIApp, patterns: Sequence[str], trusted_proxies: Networks, exempt_paths: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.exempt_paths = frozenset(exempt_paths)
        self.allow_any = "*" in patterns
        self.names = frozenset(pattern for pattern in patterns if not pattern.startswith("*"))
        self.suffixes = tuple(pattern[1:] for pattern in patterns if pattern.startswith("*."))
        self.trusted_proxies = trusted_proxies
        # Nearly every request names the same host or two: judged once each, not per request.
        self._accepts_raw = lru_cache(maxsize=256)(self._judge_raw)

    def accepts(self, value: str) -> bool:
        name = host_name(value)
        return name is not None and (name in self.names or name.endswith(self.suffixes))

    def _judge_raw(self, value: bytes) -> bool:
        return self.accepts(value.decode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        refused: str | None = None
        forwarded = False
        for name, value in scope["headers"]:
            # No Host at all (HTTP/1.0) is fine: the URL base then is the address the client reached.
            if name == b"host" and not self._accepts_raw(value):
                refused = value.decode("latin-1")
                break
            forwarded = forwarded or name == b"x-forwarded-host"
        if refused is None and forwarded:
            # Vetted exactly as request_origin reads it, and only when it would be believed.
            host = forwarded_host(Request(scope), self.trusted_proxies)
            if host is not None and not self._accepts_raw(host.encode("latin-1")):
                refused = host
        if refused is None:
            await self.app(scope, receive, send)
            return
        await refusal_response(400, self._message(refused), REFUSAL_CODE)(scope, receive, send)

    def _message(self, value: str) -> str:
        name = host_name(value)
        if name is None:
            return f"The host {_shortened(value)!r} is not a host name this server can answer to"
        return (f"This server does not answer to the host name {_shortened(name)!r}: add it to {SETTING} "
                f"(or set IMAGEHOST_PUBLIC_URL to a URL with that host) to allow it")


def _shortened(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARACTERS else text[:_SHOWN_CHARACTERS] + "..."
