"""The scheme, host and client address of a request as the client made it.

Nginx passes them on in `Host` and `X-Forwarded-*`; those headers are believed only when the
direct peer is a trusted proxy (IMAGEHOST_TRUSTED_PROXIES), so uvicorn runs with its own
proxy-header handling off and the peer address stays the peer's. The host names used here have
been vetted by `HostAllowList` before any endpoint runs.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import Request

Networks = tuple[IPv4Network | IPv6Network, ...]

MAX_FORWARDED_HOPS = 32
"""X-Forwarded-For entries looked at, from the right: more proxies than this in a row is no real
chain, and a 64 KB header of them should not cost a parse of every entry."""


def _from_trusted_proxy(request: Request, trusted_proxies: Networks) -> bool:
    return request.client is not None and _is_trusted(request.client.host, trusted_proxies)


@lru_cache(maxsize=1024)
def _is_trusted(peer: str, trusted_proxies: Networks) -> bool:
    # Cached: behind Nginx every request comes from the same few peers, and parsing an
    # address is a noticeable share of a small request's cost.
    address = _address(peer)
    return address is not None and _in(address, trusted_proxies)


def _in(address: IPv4Address | IPv6Address, networks: Networks) -> bool:
    return any(address in network for network in networks)


def forwarded_host(request: Request, trusted_proxies: Networks) -> str | None:
    """The `X-Forwarded-Host` the URL base is taken from, when a trusted proxy sent one."""
    if not _from_trusted_proxy(request, trusted_proxies):
        return None
    return _first(request.headers.get("x-forwarded-host"))


def request_origin(request: Request, trusted_proxies: Networks) -> str:
    """`scheme://host[:port]` of the request as the client sent it."""
    headers = request.headers
    scheme = request.scope.get("scheme", "http")
    host = headers.get("host") or request.url.netloc  # building request.url costs more than the lookup
    if _from_trusted_proxy(request, trusted_proxies):
        scheme = _first(headers.get("x-forwarded-proto")) or scheme
        host = forwarded_host(request, trusted_proxies) or host
    if scheme not in {"http", "https"}:
        scheme = "http"
    return f"{scheme}://{host}"


def client_address(request: Request, trusted_proxies: Networks) -> str:
    """The client's address, as uvicorn's ProxyHeadersMiddleware reads it: the peer's, or when the
    peer is a trusted proxy, the right-most `X-Forwarded-For` hop that is not a trusted proxy
    itself (each proxy appends the address it saw; anything further left is the client's claim).

    Unlike uvicorn, a hop that is not an IP address is never the answer: the walk stops there and
    the answer is the proxy that passed it on. Rate limits key on this, so it is always an
    address, written the one way `ipaddress` writes it.
    """
    peer = request.client.host if request.client else "-"
    if not _from_trusted_proxy(request, trusted_proxies):
        return peer
    chain = ",".join(request.headers.getlist("x-forwarded-for"))
    if len(chain) <= _CACHED_CHAIN_LENGTH:  # the same few chains come again and again
        return _cached_client(chain, peer, trusted_proxies)
    return _client(chain, peer, trusted_proxies)


_CACHED_CHAIN_LENGTH = 256
"""Longer chains are judged each time: as cache keys, they would pin memory a client chose."""


def _client(chain: str, peer: str, trusted_proxies: Networks) -> str:
    nearest = _address(peer)
    hops = chain.rsplit(",", MAX_FORWARDED_HOPS)
    for hop in reversed(hops[-MAX_FORWARDED_HOPS:]):  # not the unsplit rest left of them
        address = _address(_strip_port(hop.strip()))
        if address is None:
            break
        nearest = address
        if not _in(address, trusted_proxies):
            break
    return str(nearest) if nearest is not None else peer


_cached_client = lru_cache(maxsize=4096)(_client)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:  # not an IP address (garbage, a Unix socket, a test client's name)
        return None


def _strip_port(hop: str) -> str:
    """`1.2.3.4:80` -> `1.2.3.4`, `[::1]:80` or `[::1]` -> `::1`; anything else as it is."""
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None
