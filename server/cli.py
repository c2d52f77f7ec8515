"""The `imagehost` command: `serve` (one process) and `stack` (Nginx + workers)."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence

from imagehost.settings import Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imagehost", description="A small self-hosted image host.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the whole service in one process (no Nginx needed)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    stack = commands.add_parser("stack", help="run Nginx in front of several worker processes")
    stack.add_argument("--host", default="127.0.0.1", help="address Nginx listens on (default 127.0.0.1)")
    stack.add_argument("--port", type=int, default=8080, help="port Nginx listens on (default 8080)")
    stack.add_argument("--workers", type=int, default=None, help="worker processes (default IMAGEHOST_WORKERS)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"imagehost: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    from imagehost.stack import run_stack

    if args.workers is not None and args.workers < 1:
        print("imagehost: --workers must be 1 or more", file=sys.stderr)
        return 2
    return run_stack(settings, port=args.port, workers=args.workers or settings.workers, host=args.host)


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from imagehost.app import create_app

    problem = _port_problem(host, port)
    if problem:
        print(f"imagehost: {problem}", file=sys.stderr)
        return 1
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"Imagehost is ready at {url} (GraphiQL at {url}graphql)", flush=True)

    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,  # logging is configured by create_app, into app.log
        access_log=False,  # the app writes its own access lines
        proxy_headers=False,  # forwarded headers are judged by the app (IMAGEHOST_TRUSTED_PROXIES)
        timeout_graceful_shutdown=10,
    )
    AnnouncingServer(config).run()
    return 0


def _port_problem(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None
