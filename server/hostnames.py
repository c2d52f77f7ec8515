"""Host names as the Host allow-list sees them: what a `Host` value names, and what a pattern is.

Shared by the setting that lists the patterns (imagehost.settings) and the middleware that
matches requests against them (imagehost.http.allowed_hosts), so both agree on what a name is.
"""

from __future__ import annotations

import re
from ipaddress import IPv6Address, ip_address

_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_PORT = re.compile(r":[0-9]{1,5}")


def host_name(value: str) -> str | None:
    """The lower-case name in a Host value (`Example.org.:8443` -> `example.org`, `[::1]:80` ->
    `::1`), or None when the value names no host."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, port = value[1:].partition("]")
        if not bracket or not _is_ipv6(name):
            return None
    else:
        name, colon, port = value.partition(":")
        port = colon + port
        name = name.removesuffix(".")
        if not _NAME.fullmatch(name):
            return None
    if port and not _PORT.fullmatch(port):
        return None
    return name


def host_pattern(word: str) -> str | None:
    """A pattern of the allow-list (`img.example.org`, `*.example.org`, `::1`, `*`), normalised,
    or None when `word` is none (a URL, a name with a port ...)."""
    word = word.strip().lower()
    if word == "*":
        return word
    wildcard = word.startswith("*.")
    name = word.removeprefix("*.")
    if not wildcard and _is_ipv6(name.removeprefix("[").removesuffix("]")):
        return name.removeprefix("[").removesuffix("]")
    parsed = host_name(name)
    if parsed is None or ":" in name:  # a colon outside an IPv6 address is a port
        return None
    return f"*.{parsed}" if wildcard else parsed


def _is_ipv6(name: str) -> bool:
    try:
        return isinstance(ip_address(name), IPv6Address)
    except ValueError:
        return False
