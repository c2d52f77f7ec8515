"""Render Nginx's configuration from the templates in `nginx/`.

One renderer for both ways of running the production shape: `imagehost stack` calls
`render_site` and `render_stack_main`; docker compose runs `python -m imagehost.nginx_config`
once before Nginx starts (see docker-compose.yml).
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from imagehost.assets import asset_dir
from imagehost.http.security_headers import (
    CSP,
    IMAGE_CSP,
    SECURITY_HEADERS,
    graphiql_csp,
    inline_script_hashes,
    ui_csp,
)
from imagehost.settings import SettingsError, load_settings
from imagehost.storage.keys import CONTENT_TYPES_BY_EXTENSION, KEY_REGEX

SITE_TEMPLATE = "imagehost.conf.template"
STACK_MAIN_TEMPLATE = "stack-main.conf.template"

# Passive health: one refused or broken connection takes a worker out of rotation for a few
# seconds; a restarted worker is back in about that time.
PEER_OPTIONS = "max_fails=1 fail_timeout=3s"
UPSTREAM_IDLE_SECONDS = 60
"""How long Nginx keeps an idle connection to a worker. Workers must keep theirs open longer
(imagehost.stack.WORKER_KEEP_ALIVE_SECONDS): if a worker closed first, a request Nginx sent on
the closing connection would come back as a 502, and a POST is never resent."""

# Characters that would end or change a bare Nginx word, and a double-quoted Nginx string.
_UNSAFE_IN_NGINX = re.compile(r'["\\$;{}\n\r]')
_UNSAFE_IN_QUOTES = re.compile(r'["\\$\n\r]')
# A regex in a double-quoted Nginx string: its backslashes reach PCRE as written (`\.`), but
# a quote, a `$` (Nginx variables) or an escape Nginx itself reads would change it.
_UNSAFE_IN_QUOTED_REGEX = re.compile(r'["$\n\r]|\\[\\"\'nrt]')


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


PROXY_HEADERS = (
    ("Connection", '""'),
    ("Host", "$http_host"),
    ("X-Forwarded-Host", "$http_host"),
    ("X-Forwarded-Proto", "$scheme"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Real-IP", "$remote_addr"),
    ("Forwarded", '""'),
)
"""What Nginx sends workers about the client. The client's own X-Forwarded-* are replaced, never
passed on: Nginx is the edge, and the app believes these because they come from 127.0.0.1."""


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
        "IMAGEHOST_IMAGE_KEY_REGEX": _quotable_regex(KEY_REGEX, "image key pattern"),
        "IMAGEHOST_IMAGE_TYPES": _image_type_lines(),
        "IMAGEHOST_FRONTEND_DIR": _path(config.frontend_dir),
        "IMAGEHOST_LOG_DIR": _path(config.log_dir),
        "IMAGEHOST_MAX_BODY_BYTES": str(int(config.max_body_bytes)),
        "IMAGEHOST_CSP_UI": _quotable(ui_csp(config.public_url), "UI policy"),
        "IMAGEHOST_CSP_GRAPHIQL": _quotable(graphiql_csp(config.graphiql_script_hashes), "GraphiQL policy"),
        "IMAGEHOST_CSP_IMAGE": _quotable(IMAGE_CSP, "image policy"),
        "IMAGEHOST_SECURITY_HEADERS": _security_header_lines(),
        "IMAGEHOST_PROXY_HEADERS": "\n".join(f"    proxy_set_header {name} {value};" for name, value in PROXY_HEADERS),
        "IMAGEHOST_HIDDEN_UPSTREAM_HEADERS": "\n".join(
            f"    proxy_hide_header {name};" for name in (CSP, *SECURITY_HEADERS)
        ),
    })


def render_stack_main(run_dir: Path, log_dir: Path, user: str | None) -> str:
    """The main context for `imagehost stack`; it includes `run_dir/imagehost.conf`."""
    return _render(STACK_MAIN_TEMPLATE, {
        "IMAGEHOST_NGINX_RUN_DIR": _path(run_dir),
        "IMAGEHOST_LOG_DIR": _path(log_dir),
        "IMAGEHOST_NGINX_USER": f"user {_plain(user, 'user name')};" if user else "",
    })


def fetch_graphiql_script_hashes(graphql_url: str, timeout: float = 5.0) -> tuple[str, ...]:
    """Hash the inline scripts of the GraphiQL page a worker serves (the page is the app's)."""
    # Asked as a loopback client: a worker accepts its loopback names whatever
    # IMAGEHOST_ALLOWED_HOSTS says, and the address used here (Docker's `app:8000`) may be no name
    # the operator listed.
    request = urllib.request.Request(graphql_url, headers={"Accept": "text/html", "Host": "localhost"})
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


def _security_header_lines() -> str:
    lines = [f"    add_header {CSP} $imagehost_csp always;"]
    lines += [f'    add_header {name} "{_quotable(value, name)}" always;' for name, value in SECURITY_HEADERS.items()]
    return "\n".join(lines)


def _image_type_lines() -> str:
    """The `types {}` of image keys: every extension a key can end in, with its Content-Type."""
    return "\n".join(
        f"            {_plain(content_type, 'content type')} {_plain(extension, 'extension')};"
        for extension, content_type in CONTENT_TYPES_BY_EXTENSION.items()
    )


def _quotable_regex(value: str, what: str) -> str:
    if _UNSAFE_IN_QUOTED_REGEX.search(value):
        raise NginxConfigError(f"the {what} {value!r} cannot be written into Nginx's configuration")
    return value


def _quotable(value: str, what: str) -> str:
    if _UNSAFE_IN_QUOTES.search(value):
        raise NginxConfigError(f"the {what} {value!r} cannot be written into Nginx's configuration")
    return value


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
