"""The scheme, host and client address of a request as the client made it.

Nginx passes them on in `Host` and `X-Forwarded-*`; those headers are believed only when the
direct peer is a trusted proxy (IMAGEHOST_TRUSTED_PROXIES), so uvicorn runs with its own
proxy-header handling off and the peer address stays the peer's.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.requests import Request

Networks = tuple[IPv4Network | IPv6Network, ...]


def _from_trusted_proxy(request: Request, trusted_proxies: Networks) -> bool:
    return request.client is not None and _is_trusted(request.client.host, trusted_proxies)


@lru_cache(maxsize=1024)
def _is_trusted(peer: str, trusted_proxies: Networks) -> bool:
    # Cached: behind Nginx every request comes from the same few peers, and parsing an
    # address is a noticeable share of a small request's cost.
    try:
        address = ip_address(peer)
    except ValueError:  # not an IP address (a Unix socket, a test client)
        return False
    return any(address in network for network in trusted_proxies)


def request_origin(request: Request, trusted_proxies: Networks) -> str:
    """`scheme://host[:port]` of the request as the client sent it."""
    headers = request.headers
    scheme = request.scope.get("scheme", "http")
    host = headers.get("host") or request.url.netloc  # building request.url costs more than the lookup
    if _from_trusted_proxy(request, trusted_proxies):
        scheme = _first(headers.get("x-forwarded-proto")) or scheme
        host = _first(headers.get("x-forwarded-host")) or host
    if scheme not in {"http", "https"}:
        scheme = "http"
    return f"{scheme}://{host}"


def client_address(request: Request, trusted_proxies: Networks) -> str:
    peer = request.client.host if request.client else "-"
    if _from_trusted_proxy(request, trusted_proxies):
        # Nginx appends the address it saw; anything left of it came from the client.
        forwarded_for = request.headers.get("x-forwarded-for", "")
        return forwarded_for.rsplit(",", 1)[-1].strip() or peer
    return peer


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None
