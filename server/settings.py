"""Every setting in one place: read from the environment, then `.env`, then the default."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from starlette.config import Config
from starlette.datastructures import Secret

from imagehost.resolvers.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH

from imagehost.hostnames import host_pattern

T = TypeVar("T")

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_FILES = 20
DEFAULT_WORKERS = 4
DEFAULT_MIN_FREE_BYTES = 1024 * 1024 * 1024
DEFAULT_PUBLIC_UPLOADS_PER_HOUR = 60
DEFAULT_TRUSTED_PROXIES = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
PER_FILE_BODY_MARGIN = 64 * 1024
LOOPBACK_HOSTS = ("localhost", "*.localhost", "127.0.0.1", "::1")
"""Host names a server always answers to: no other site's page can make a browser send them."""
WILDCARD_ADDRESSES = frozenset({"*", "0.0.0.0", "::"})
BODY_MARGIN = 1024 * 1024
SECRET_SETTINGS = frozenset({"IMAGEHOST_ADMIN_PASSWORD"})
"""Settings whose values never appear in a message."""


class SettingsError(Exception):
    """A setting with a value that cannot work; str() is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    images_dir: Path
    """IMAGEHOST_IMAGES_DIR: where image bytes (and the embedded catalog) live."""
    log_dir: Path
    """IMAGEHOST_LOG_DIR: where app.log (and Nginx's nginx/ logs) are written."""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    """IMAGEHOST_MAX_UPLOAD_BYTES: bytes per file."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """IMAGEHOST_MAX_PIXELS: width x height per image (decompression-bomb guard)."""
    max_files: int = DEFAULT_MAX_FILES
    """IMAGEHOST_MAX_FILES: files per request."""
    public_url: str | None = None
    """IMAGEHOST_PUBLIC_URL: base of image URLs; unset means 'as the request came in'."""
    workers: int = DEFAULT_WORKERS
    """IMAGEHOST_WORKERS: uvicorn worker processes behind Nginx."""
    allowed_origins: tuple[str, ...] = ()
    """IMAGEHOST_ALLOWED_ORIGINS: other origins (comma-separated) whose pages may upload and delete."""
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = DEFAULT_TRUSTED_PROXIES
    """IMAGEHOST_TRUSTED_PROXIES: addresses or networks (CIDR) whose X-Forwarded-* headers are believed."""
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
    """IMAGEHOST_MIN_FREE_BYTES: uploads are refused (STORAGE_FULL) below this much free space; 0 turns it off."""
    allowed_hosts: tuple[str, ...] = ()
    """IMAGEHOST_ALLOWED_HOSTS: other host names (`*.example.org`; `*` for any) the server answers to."""
    keep_metadata: bool = False
    """IMAGEHOST_KEEP_METADATA: store uploads with their EXIF, XMP, IPTC and comments (default: removed)."""
    admin_password: Secret | None = None
    """IMAGEHOST_ADMIN_PASSWORD: the first admin's password (only used while no account exists)."""
    public_uploads: bool = False
    """IMAGEHOST_PUBLIC_UPLOADS: anyone may upload; anonymous uploads get a delete token."""
    public_uploads_per_hour: int = DEFAULT_PUBLIC_UPLOADS_PER_HOUR
    """IMAGEHOST_PUBLIC_UPLOADS_PER_HOUR: anonymous uploads per client address and hour."""

    @property
    def host_patterns(self) -> tuple[str, ...]:
        """Every Host the server answers to: its loopback names, IMAGEHOST_PUBLIC_URL's host and
        IMAGEHOST_ALLOWED_HOSTS. Any other name is refused (DNS rebinding, forged URL bases)."""
        public_host = host_pattern(urlsplit(self.public_url).hostname or "") if self.public_url else None
        return tuple(dict.fromkeys([*LOOPBACK_HOSTS, *([public_host] if public_host else []), *self.allowed_hosts]))

    def answering_to(self, listen_host: str) -> Settings:
        """These settings, also accepting the address the server listens on (`--host`) unless it
        is a wildcard such as 0.0.0.0."""
        pattern = host_pattern(listen_host)
        if pattern is None or pattern in WILDCARD_ADDRESSES:
            return self
        return replace(self, allowed_hosts=(*self.allowed_hosts, pattern))

    @property
    def max_body_bytes(self) -> int:
        """The request body cap: every allowed file at its limit, plus room for the form around them."""
        return self.max_files * (self.max_upload_bytes + PER_FILE_BODY_MARGIN) + BODY_MARGIN


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path = ".env") -> Settings:
    """Read and check every setting; raise SettingsError naming the first bad one."""
    config = Config(env_file if Path(env_file).is_file() else None, environ=environ if environ is not None else os.environ)

    def read(name: str, parse: Callable[[str], T], default: T) -> T:
        raw = config(name, default=None)
        if raw is None or raw == "":
            return default
        try:
            return parse(raw)
        except ValueError as error:
            shown = "(not shown)" if name in SECRET_SETTINGS else repr(raw)
            raise SettingsError(f"{name}={shown}: {error}") from None

    return Settings(
        images_dir=read("IMAGEHOST_IMAGES_DIR", _directory, Path("images").absolute()),
        log_dir=read("IMAGEHOST_LOG_DIR", _directory, Path("logs").absolute()),
        max_upload_bytes=read("IMAGEHOST_MAX_UPLOAD_BYTES", _positive_int, DEFAULT_MAX_UPLOAD_BYTES),
        max_pixels=read("IMAGEHOST_MAX_PIXELS", _positive_int, DEFAULT_MAX_PIXELS),
        max_files=read("IMAGEHOST_MAX_FILES", _positive_int, DEFAULT_MAX_FILES),
        public_url=read("IMAGEHOST_PUBLIC_URL", _base_url, None),
        workers=read("IMAGEHOST_WORKERS", _positive_int, DEFAULT_WORKERS),
        allowed_origins=read("IMAGEHOST_ALLOWED_ORIGINS", _origins, ()),
        trusted_proxies=read("IMAGEHOST_TRUSTED_PROXIES", _networks, DEFAULT_TRUSTED_PROXIES),
        min_free_bytes=read("IMAGEHOST_MIN_FREE_BYTES", _non_negative_int, DEFAULT_MIN_FREE_BYTES),
        allowed_hosts=read("IMAGEHOST_ALLOWED_HOSTS", _host_patterns, ()),
        keep_metadata=read("IMAGEHOST_KEEP_METADATA", _boolean, False),
        admin_password=read("IMAGEHOST_ADMIN_PASSWORD", _admin_password, None),
        public_uploads=read("IMAGEHOST_PUBLIC_UPLOADS", _boolean, False),
        public_uploads_per_hour=read("IMAGEHOST_PUBLIC_UPLOADS_PER_HOUR", _positive_int, DEFAULT_PUBLIC_UPLOADS_PER_HOUR),
    )


def _admin_password(raw: str) -> Secret:
    if len(raw) < MIN_PASSWORD_LENGTH:
        # The error names the variable, never the value (SettingsError prints `raw` otherwise).
        raise ValueError(f"must have at least {MIN_PASSWORD_LENGTH} characters")
    return Secret(raw)


def _boolean(raw: str) -> bool:
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    try:
        return words[raw.strip().lower()]
    except KeyError:
        raise ValueError("must be true or false") from None


def _whole_number(raw: str) -> int:
    try:
        return int(raw.strip().replace("_", ""))
    except ValueError:
        raise ValueError("must be a whole number") from None


def _non_negative_int(raw: str) -> int:
    value = _whole_number(raw)
    if value < 0:
        raise ValueError("must be 0 (off) or more")
    return value


def _positive_int(raw: str) -> int:
    value = _whole_number(raw)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _directory(raw: str) -> Path:
    path = Path(raw).expanduser().absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the directory ({error.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError("the directory is not writable")
    return path


def _base_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL such as https://img.example.org")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return raw.strip().rstrip("/")


def _origins(raw: str) -> tuple[str, ...]:
    origins = _words(raw)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
            raise ValueError(f"{origin!r} is not an origin such as https://app.example.org")
    return tuple(origin.rstrip("/") for origin in origins)


def _networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    networks = []
    for word in _words(raw):
        try:
            networks.append(ip_network(word, strict=False))
        except ValueError:
            raise ValueError(f"{word!r} is not an IP address or network such as 10.0.0.0/8") from None
    return tuple(networks)


def _host_patterns(raw: str) -> tuple[str, ...]:
    patterns = []
    for word in _words(raw):
        pattern = host_pattern(word)
        if pattern is None:
            raise ValueError(f"{word!r} is not a host name such as img.example.org or *.example.org (no scheme, no port)")
        patterns.append(pattern)
    return tuple(patterns)


def _words(raw: str) -> tuple[str, ...]:
    return tuple(word for word in raw.replace(",", " ").split() if word)
