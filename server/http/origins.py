"""Cross-site request refusal: a page from another origin must not use the API from a browser.

Browsers send `Origin` (and `Sec-Fetch-Site`) on cross-origin POSTs; scripts such as curl or
gql send neither and pass. Multipart bodies are "simple" requests that skip CORS preflight, so
this check is the CSRF defence Strawberry leaves to us.

Reads are refused too, not only uploads and deletes: the check runs before the body is read (a
multipart body is the upload itself), and a query would gain another site nothing, since no
CORS header lets its page read the answer; allowing one would only let any page make visitors'
browsers run queries here. The message therefore speaks of the API, not of changing images.
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
            return ("Pages of other sites may not use this server's API from a browser: "
                    "add their origin to IMAGEHOST_ALLOWED_ORIGINS to allow it")
        return None
    origin = origin.rstrip("/").lower()
    if origin == request_origin(request, trusted_proxies).lower() or origin in {o.lower() for o in allowed_origins}:
        return None
    return (f"Pages from {origin} may not use this server's API from a browser: "
            "add it to IMAGEHOST_ALLOWED_ORIGINS to allow it")
