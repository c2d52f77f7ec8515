"""What a Host value names, and the allow-list's matching of it."""

from __future__ import annotations

import pytest

from imagehost.hostnames import host_name
from imagehost.http.allowed_hosts import HostAllowList
from imagehost.settings import LOOPBACK_HOSTS


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("localhost:8000", "localhost"),
        ("Img.Example.ORG", "img.example.org"),
        ("img.example.org.:443", "img.example.org"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("::1", None),  # an IPv6 Host must be bracketed
        ("[::1", None),
        ("[not-v6]:80", None),
        ("evil.example:80x", None),
        ("evil.example:123456", None),
        ("evil.example@127.0.0.1", None),
        ("a b", None),
        ("", None),
    ],
)
def test_host_name(value: str, name: str | None) -> None:
    assert host_name(value) == name


async def _unused(scope: object, receive: object, send: object) -> None:
    raise AssertionError("not called")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("localhost:8000", True),
        ("app.localhost", True),
        ("127.0.0.1:9", True),
        ("[::1]:8000", True),
        ("img.example.org", True),
        ("a.b.example.net", True),
        ("example.net", False),  # `*.example.net` names its subdomains, as in Starlette
        ("evilexample.net", False),
        ("img.example.org.evil.example", False),
        ("127.0.0.2", False),
        ("evil.example", False),
        ("localhost.evil.example", False),
        ("", False),
    ],
)
def test_allow_list_matching(value: str, accepted: bool) -> None:
    allow = HostAllowList(_unused, (*LOOPBACK_HOSTS, "img.example.org", "*.example.net"), trusted_proxies=())
    assert allow.accepts(value) is accepted
