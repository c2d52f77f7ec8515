"""The credentials of a request (an API token, or a session cookie) and the cookie's shape.

Tokens come as `Authorization: Bearer <secret>`; anything else in that header, or a token that
is not live, is refused with 401 (a script must notice, not carry on signed out). The session
cookie is honoured on a POST only when the browser says the request came from our own page
(`Origin` or `Sec-Fetch-Site`): with the origin check this is the CSRF defence for sessions,
over SameSite=Lax, which alone would still let a sibling subdomain's page in.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.requests import Request
from starlette.responses import Response

from imagehost.http.forwarded import Networks, request_origin
from imagehost.http.refusals import RequestRefused
from imagehost.resolvers.authentication import InvalidToken, authenticate
from imagehost.resolvers.viewer import Viewer
from imagehost.storage import Accounts

SESSION_COOKIE = "imagehost_session"
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="imagehost"'}
INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="imagehost", error="invalid_token"'}


async def request_viewer(
    request: Request, accounts: Accounts, allowed_origins: Collection[str], trusted_proxies: Networks,
    method: str | None = None,
) -> Viewer | None:
    """Who sent the request (`method`: the one it was sent with, when Nginx asks on its
    behalf); None when it carries no credentials (or a stale session cookie)."""
    bearer = _bearer(request)
    session = request.cookies.get(SESSION_COOKIE) if bearer is None else None
    posting = (method or request.method) == "POST"
    if session is not None and posting and not _from_own_page(request, allowed_origins, trusted_proxies):
        raise RequestRefused(
            403,
            "A request carrying the session cookie must come from the Imagehost page itself (its browser sends "
            "Origin); scripts send an API token as `Authorization: Bearer` instead",
            "CROSS_ORIGIN_FORBIDDEN",
        )
    try:
        return await authenticate(accounts, bearer, session)
    except InvalidToken:
        raise RequestRefused(
            401,
            "The API token is not valid: it may have been revoked, or its account removed. Create a new one "
            "on the API tokens page or with `imagehost tokens create`",
            "INVALID_TOKEN",
            headers=INVALID_TOKEN_CHALLENGE,
        ) from None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise RequestRefused(
            401, "The Authorization header must be `Bearer <API token>`", "INVALID_TOKEN", headers=INVALID_TOKEN_CHALLENGE
        )
    return secret.strip()


def _from_own_page(request: Request, allowed_origins: Collection[str], trusted_proxies: Networks) -> bool:
    origin = request.headers.get("origin")
    if origin is not None:
        origin = origin.rstrip("/").lower()
        return origin == request_origin(request, trusted_proxies).lower() or origin in {o.lower() for o in allowed_origins}
    return request.headers.get("sec-fetch-site") == "same-origin"


def refuse_anonymous_upload(viewer: Viewer | None, public_uploads: bool) -> None:
    """Raise the 401 for an upload without an account (unless public uploads are on)."""
    if viewer is None and not public_uploads:
        raise RequestRefused(
            401,
            "Sign in to upload: send an API token as `Authorization: Bearer <token>` (or use the browser UI)",
            "UNAUTHENTICATED",
            headers=BEARER_CHALLENGE,
        )


class ResponseSessionCookie:
    """Writes the session cookie onto the answer (Strawberry copies the sub-response's headers)."""

    def __init__(self, response: Response, secure: bool) -> None:
        self._response = response
        self._secure = secure

    def issue(self, secret: str, max_age_seconds: int) -> None:
        self._response.set_cookie(
            SESSION_COOKIE, secret, max_age=max_age_seconds, path="/", httponly=True, samesite="lax", secure=self._secure
        )

    def clear(self) -> None:
        self._response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self._secure)
