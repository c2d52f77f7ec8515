"""Cross-site request refusal: a page from another origin must not upload or delete.

Browsers send `Origin` (and `Sec-Fetch-Site`) on cross-origin POSTs; scripts such as curl or
gql send neither and pass. Multipart bodies are "simple" requests that skip CORS preflight, so
this check is the CSRF defence Strawberry leaves to us.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.requests import Request

from imagehost.http.forwarded import Networks, request_origin


def cross_origin_refusal(request: Request, allowed_origins: Collection[str], trusted_proxies: Networks) -> str | None:
    """Why this request must be refused, or None when it may go on."""
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    if origin is None or origin == "null":
        if fetch_site == "cross-site" or origin == "null":
            return "Cross-site requests may not change images"
        return None
    origin = origin.rstrip("/").lower()
    if origin == request_origin(request, trusted_proxies).lower() or origin in {o.lower() for o in allowed_origins}:
        return None
    return f"Requests from {origin} may not change images: add it to IMAGEHOST_ALLOWED_ORIGINS to allow it"
