"""Render Nginx's configuration from the templates in `nginx/`.

One renderer for both ways of running the production shape: `imagehost stack` calls
`render_site` and `render_stack_main`; docker compose runs `python -m imagehost.nginx_config`
once before Nginx starts (see docker-compose.yml).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from imagehost.assets import asset_dir
from imagehost.settings import SettingsError, load_settings

SITE_TEMPLATE = "imagehost.conf.template"
STACK_MAIN_TEMPLATE = "stack-main.conf.template"

# Passive health: one refused or broken connection takes a worker out of rotation for a few
# seconds; a restarted worker is back in about that time.
PEER_OPTIONS = "max_fails=1 fail_timeout=3s"
UPSTREAM_IDLE_SECONDS = 60
"""How long Nginx keeps an idle connection to a worker. Workers must keep theirs open longer
(imagehost.stack.WORKER_KEEP_ALIVE_SECONDS): if a worker closed first, a request Nginx sent on
the closing connection would come back as a 502, and a POST is never resent."""

_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
# Characters that would end or change a quoted Nginx string.
_UNSAFE_IN_NGINX = re.compile(r'["\\$;{}\n\r]')


class NginxConfigError(Exception):
    """A value that cannot be written into Nginx's configuration; str() is one line."""


class _Placeholders(Template):
    # Only ${IMAGEHOST_...} is ours; every other $ belongs to Nginx and is left alone.
    pattern = r"""
        \$(?:
          (?P<escaped>(?!x)x) |
          (?P<named>(?!x)x) |
          \{(?P<braced>IMAGEHOST_[A-Z0-9_]+)\} |
          (?P<invalid>(?!x)x)
        )
    """  # type: ignore[assignment]  # a str, which Template compiles (its documented use)


@dataclass(frozen=True)
class SiteConfig:
    listen: str
    """Nginx `listen` value: `127.0.0.1:8080`, `80` ..."""
    upstreams: tuple[str, ...]
    """Worker addresses, `127.0.0.1:8001` or, in Docker, a name such as `app:8000`."""
    images_dir: Path
    frontend_dir: Path
    log_dir: Path
    max_body_bytes: int
    public_url: str | None = None
    graphiql_script_hashes: tuple[str, ...] = ()
    """CSP sources (`'sha256-...'`) for the inline scripts of the GraphiQL page."""
    resolver: str | None = None
    """A DNS server to re-resolve upstream names with (Docker; needs Nginx 1.27.3 or later)."""


def render_site(config: SiteConfig) -> str:
    """The http-context configuration: upstream, security headers, locations."""
    return _render(SITE_TEMPLATE, {
        "IMAGEHOST_NGINX_LISTEN": _plain(config.listen, "listen address"),
        "IMAGEHOST_UPSTREAM_SERVERS": _upstream_lines(config.upstreams, config.resolver),
        "IMAGEHOST_UPSTREAM_IDLE_SECONDS": str(UPSTREAM_IDLE_SECONDS),
        "IMAGEHOST_IMAGES_DIR": _path(config.images_dir),
        "IMAGEHOST_FRONTEND_DIR": _path(config.frontend_dir),
        "IMAGEHOST_LOG_DIR": _path(config.log_dir),
        "IMAGEHOST_MAX_BODY_BYTES": str(int(config.max_body_bytes)),
        "IMAGEHOST_CSP_UI": ui_csp(config.public_url),
        "IMAGEHOST_CSP_GRAPHIQL": graphiql_csp(config.graphiql_script_hashes),
    })


def render_stack_main(run_dir: Path, log_dir: Path, user: str | None) -> str:
    """The main context for `imagehost stack`; it includes `run_dir/imagehost.conf`."""
    return _render(STACK_MAIN_TEMPLATE, {
        "IMAGEHOST_NGINX_RUN_DIR": _path(run_dir),
        "IMAGEHOST_LOG_DIR": _path(log_dir),
        "IMAGEHOST_NGINX_USER": f"user {_plain(user, 'user name')};" if user else "",
    })


def ui_csp(public_url: str | None) -> str:
    """The UI: same-origin ES modules and styles, no inline script; previews are blob:/data:."""
    image_sources = "'self' data: blob:"
    if public_url:
        parts = urlsplit(public_url)
        image_sources += f" {parts.scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {image_sources}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def graphiql_csp(script_hashes: Sequence[str]) -> str:
    """Strawberry's GraphiQL page: one inline script (allowed by its hash), inline styles."""
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *script_hashes]),
        # The page has a <style> block, and GraphiQL's editors add style elements at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """CSP hash sources for every inline <script> in `html`, in page order."""
    hashes = []
    for attributes, body in _INLINE_SCRIPT.findall(html):
        if re.search(r"\bsrc\s*=", attributes, re.IGNORECASE):
            continue
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return tuple(dict.fromkeys(hashes))


def fetch_graphiql_script_hashes(graphql_url: str, timeout: float = 5.0) -> tuple[str, ...]:
    """Hash the inline scripts of the GraphiQL page a worker serves (the page is the app's)."""
    request = urllib.request.Request(graphql_url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return inline_script_hashes(response.read().decode("utf-8"))


def _upstream_lines(upstreams: Sequence[str], resolver: str | None) -> str:
    if not upstreams:
        raise NginxConfigError("at least one worker address is needed")
    resolve = " resolve" if resolver else ""
    lines = [f"    server {_plain(address, 'worker address')}{resolve} {PEER_OPTIONS};" for address in upstreams]
    if resolver:
        lines.append(f"    resolver {_plain(resolver, 'resolver')} valid=5s ipv6=off;")
    return "\n".join(lines)


def _render(template_name: str, values: Mapping[str, str]) -> str:
    text = (asset_dir("nginx") / template_name).read_text(encoding="utf-8")
    try:
        return _Placeholders(text).substitute(values)
    except KeyError as missing:
        raise NginxConfigError(f"{template_name} uses {missing.args[0]}, which has no value") from None


def _path(path: Path) -> str:
    return _plain(str(Path(path).absolute()), "path")


def _plain(value: str, what: str) -> str:
    if not value or _UNSAFE_IN_NGINX.search(value) or value != value.strip():
        raise NginxConfigError(f"the {what} {value!r} cannot be used in Nginx's configuration")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m imagehost.nginx_config`: write the site configuration for docker compose."""
    parser = argparse.ArgumentParser(prog="python -m imagehost.nginx_config", description=main.__doc__)
    parser.add_argument("--listen", default="80")
    parser.add_argument("--upstream", action="append", required=True, help="worker address (repeatable)")
    parser.add_argument("--resolver", help="DNS server for re-resolving upstream names (Docker: 127.0.0.11)")
    parser.add_argument("--frontend-dir", type=Path, help="where Nginx finds frontend/ (default: ours)")
    parser.add_argument("--graphiql-from", help="a worker's /graphql URL to hash GraphiQL's inline script from")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        hashes = fetch_graphiql_script_hashes(args.graphiql_from) if args.graphiql_from else ()
        text = render_site(SiteConfig(
            listen=args.listen,
            upstreams=tuple(args.upstream),
            images_dir=settings.images_dir,
            frontend_dir=args.frontend_dir or asset_dir("frontend"),
            log_dir=settings.log_dir,
            max_body_bytes=settings.max_body_bytes,
            public_url=settings.public_url,
            graphiql_script_hashes=hashes,
            resolver=args.resolver,
        ))
    except (SettingsError, NginxConfigError, OSError) as error:
        print(f"imagehost.nginx_config: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(args.upstream)} upstream, body cap {settings.max_body_bytes} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
