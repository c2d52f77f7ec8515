"""The client address and URL base behind proxies: X-Forwarded-For read as uvicorn's
ProxyHeadersMiddleware reads it (the right-most hop that is not a trusted proxy)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from starlette.requests import Request

from imagehost.http.forwarded import MAX_FORWARDED_HOPS, Networks, client_address, forwarded_host, request_origin

NGINX_ONLY: Networks = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
PROXY_TIER: Networks = (*NGINX_ONLY, ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


def request_from(peer: str | None, *headers: tuple[str, str]) -> Request:
    return Request({
        "type": "http", "method": "GET", "path": "/", "scheme": "http", "query_string": b"",
        "server": ("127.0.0.1", 8000), "client": (peer, 50000) if peer else None,
        "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in headers],
    })


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        pytest.param("203.0.113.7", "198.51.100.1", NGINX_ONLY, "203.0.113.7", id="untrusted-peer-is-believed-alone"),
        pytest.param("127.0.0.1", "", NGINX_ONLY, "127.0.0.1", id="proxy-without-header"),
        pytest.param("127.0.0.1", "203.0.113.7", NGINX_ONLY, "203.0.113.7", id="one-hop"),
        pytest.param("127.0.0.1", "6.6.6.6, 203.0.113.7", NGINX_ONLY, "203.0.113.7", id="client-claim-left-is-ignored"),
        pytest.param("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", PROXY_TIER, "203.0.113.7", id="two-trusted-hops"),
        pytest.param("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", NGINX_ONLY, "10.1.2.3",
                     id="a-hop-not-listed-is-the-client"),
        pytest.param("127.0.0.1", "10.9.9.9, 10.1.2.3", PROXY_TIER, "10.9.9.9", id="all-trusted-left-most"),
        pytest.param("::1", "2001:db8::5", NGINX_ONLY, "2001:db8::5", id="ipv6"),
        pytest.param("::1", "[2001:db8::5]:4711, fd00::1", PROXY_TIER, "2001:db8::5", id="ipv6-bracketed-with-port"),
        pytest.param("127.0.0.1", "2001:0db8:0000::0005", NGINX_ONLY, "2001:db8::5", id="ipv6-written-one-way"),
        pytest.param("127.0.0.1", "203.0.113.7:61000", NGINX_ONLY, "203.0.113.7", id="ipv4-with-port"),
        pytest.param("127.0.0.1", "203.0.113.7 , ", NGINX_ONLY, "127.0.0.1", id="trailing-empty-hop"),
        pytest.param("127.0.0.1", "not-an-address", NGINX_ONLY, "127.0.0.1", id="garbage-only"),
        pytest.param("127.0.0.1", "203.0.113.7, <script>, 10.1.2.3", PROXY_TIER, "10.1.2.3",
                     id="garbage-stops-at-the-proxy-that-passed-it"),
        pytest.param("127.0.0.1", "[::1", NGINX_ONLY, "127.0.0.1", id="broken-bracket"),
        pytest.param("127.0.0.1", "unknown, 203.0.113.7", NGINX_ONLY, "203.0.113.7", id="garbage-left-of-the-client"),
    ],
)
def test_client_address_is_the_right_most_untrusted_hop(peer: str, forwarded_for: str, trusted: Networks,
                                                        client: str) -> None:
    assert client_address(request_from(peer, ("X-Forwarded-For", forwarded_for)), trusted) == client


def test_several_forwarded_for_headers_are_one_list() -> None:
    request = request_from("127.0.0.1", ("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-For", "10.1.2.3"))
    assert client_address(request, PROXY_TIER) == "203.0.113.7"


def test_a_long_chain_of_trusted_hops_is_read_only_from_its_right_end() -> None:
    chain = ", ".join(["198.51.100.9", *["10.0.0.1"] * 5000])
    assert client_address(request_from("127.0.0.1", ("X-Forwarded-For", chain)), PROXY_TIER) == "10.0.0.1"
    short = ", ".join(["198.51.100.9", *["10.0.0.1"] * (MAX_FORWARDED_HOPS - 1)])
    assert client_address(request_from("127.0.0.1", ("X-Forwarded-For", short)), PROXY_TIER) == "198.51.100.9"


def test_no_client_at_all() -> None:
    assert client_address(request_from(None, ("X-Forwarded-For", "203.0.113.7")), NGINX_ONLY) == "-"


def test_forwarded_host_and_proto_only_from_a_trusted_proxy() -> None:
    headers = (("Host", "127.0.0.1:8080"), ("X-Forwarded-Host", "img.example.org, other.example"),
               ("X-Forwarded-Proto", "https"))
    trusted = request_from("127.0.0.1", *headers)
    assert forwarded_host(trusted, NGINX_ONLY) == "img.example.org"
    assert request_origin(trusted, NGINX_ONLY) == "https://img.example.org"
    untrusted = request_from("203.0.113.7", *headers)
    assert forwarded_host(untrusted, NGINX_ONLY) is None
    assert request_origin(untrusted, NGINX_ONLY) == "http://127.0.0.1:8080"
    assert request_origin(request_from("203.0.113.7"), NGINX_ONLY) == "http://127.0.0.1:8000"  # no Host: the server's
