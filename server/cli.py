"""The `imagehost` command: `serve` (one process), `stack` (Nginx + workers), `check`, `users`, `tokens`."""

from __future__ import annotations

import argparse
import resource
import socket
import sys
from collections.abc import Sequence

from imagehost.account_commands import add_parsers as add_account_parsers
from imagehost.settings import Settings, SettingsError, load_settings

MIN_PORT, MAX_PORT = 1, 65535
"""0 would make the OS choose a port nobody is told about."""
OPEN_FILES_WANTED = 65536
"""`serve` raises its soft RLIMIT_NOFILE toward this (within the hard limit): every open
connection is a file descriptor, and the usual soft default of 1024 is 32 clients at the
per-client cap (Nginx's `worker_rlimit_nofile` does the same in the stack)."""


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
    check = commands.add_parser("check", help="compare the catalog with the stored images (also while serving)")
    check.add_argument("--repair", action="store_true", help="rebuild lost rows from the bytes, drop rows without bytes")
    add_account_parsers(commands.add_parser)
    args = parser.parse_args(argv)
    if args.command in {"serve", "stack"} and not MIN_PORT <= args.port <= MAX_PORT:
        print(f"imagehost: --port must be a port number from {MIN_PORT} to {MAX_PORT}, not {args.port}",
              file=sys.stderr)
        return 2

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"imagehost: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        from imagehost.check_command import run_check

        return run_check(settings, repair=args.repair)
    if args.command in {"users", "tokens"}:
        from imagehost.account_commands import run_account_command

        return run_account_command(settings, args)
    settings = settings.answering_to(args.host)  # the address given to --host is a name clients use
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
    from imagehost.http.connection_limits import ConnectionLimits, guarded_protocol

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

    _raise_open_files_limit()
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,  # logging is configured by create_app, into app.log
        access_log=False,  # the app writes its own access lines
        proxy_headers=False,  # forwarded headers are judged by the app (IMAGEHOST_TRUSTED_PROXIES)
        timeout_graceful_shutdown=10,
        # uvicorn's httptools protocol, with a deadline and a size cap on request heads and a
        # cap on connections per client (request bodies: imagehost.http.read_timeouts).
        http=guarded_protocol(ConnectionLimits(exempt=settings.trusted_proxies)),
        ws="none",  # no WebSocket route; an upgrade would also leave the guarded protocol
    )
    AnnouncingServer(config).run()
    return 0


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(OPEN_FILES_WANTED, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _port_problem(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None
