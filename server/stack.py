"""`imagehost stack`: Nginx in front of N uvicorn workers, supervised in the foreground.

The supervisor is our own small loop on the standard library rather than a library, because none
of the candidates has the shape of a foreground command that owns its children:
- supervisord is a daemon with its own INI file, control socket and logs; it wants to be the
  root of the process tree, not a child that stops everything on Ctrl-C;
- honcho (Procfile runner) stops every process when one exits: the opposite of restarting it;
- circus restarts workers but brings ZeroMQ and Tornado, an arbiter and a control socket.
What we need is short: start the workers and wait until each answers, start Nginx, restart a
worker that dies (same port, since Nginx's upstream list is fixed; with a back-off if it keeps
dying) or hangs (killed once it misses its /healthz probes: imagehost.worker_probe), forward
SIGUSR1 to Nginx (reopen its logs after rotation), and on SIGINT, SIGTERM or SIGHUP stop Nginx
then the workers, SIGKILL whatever is left of their process groups, and leave nothing behind.
Signals, child exits and the probes' sockets wake one `select` (signals through
`signal.set_wakeup_fd`), so a dead worker is restarted at once, without polling.

Each child runs in its own process group (Ctrl-C in a terminal reaches only us, so we stop them
in order) and, on Linux, gets SIGTERM if this process dies without cleaning up (PR_SET_PDEATHSIG).
Nginx's pid file, rendered configuration and temp folders go in a fresh temporary folder: unique
per run (two stacks never share a pid file), outside the user's data and log folders, and removed
on exit. Its logs go to `<log_dir>/nginx/`.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from imagehost.assets import asset_dir
from imagehost.nginx_config import (
    UPSTREAM_IDLE_SECONDS,
    NginxConfigError,
    SiteConfig,
    fetch_graphiql_script_hashes,
    render_site,
    render_stack_main,
)
from imagehost.worker_probe import WorkerProbes

if TYPE_CHECKING:
    from imagehost.settings import Settings

WORKER_HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # a cold start on a busy two-core machine imports Strawberry N times at once
STOP_TIMEOUT = 10.0
WORKER_KEEP_ALIVE_SECONDS = UPSTREAM_IDLE_SECONDS + 15  # Nginx closes idle connections first
QUICK_DEATH = 5.0  # a worker that dies sooner than this after starting is restarted with a back-off
MAX_BACKOFF = 10.0
NGINX_FALLBACK_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin", "/sbin")

_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
_WATCHED_SIGNALS = (*_STOP_SIGNALS, signal.SIGCHLD, signal.SIGUSR1)


class StackError(Exception):
    """Why the stack cannot start or go on; str() is one line for stderr."""


class _StopRequested(Exception):
    pass


def worker_command(port: int, host: str = WORKER_HOST) -> list[str]:
    """One worker process. The Dockerfile's CMD is this with host 0.0.0.0 and port 8000 (a test
    keeps them equal). Forwarded headers are judged by the app (IMAGEHOST_TRUSTED_PROXIES), so
    uvicorn's own handling is off; the app writes its own access lines to app.log. Idle
    connections stay open longer than Nginx keeps them (uvicorn's default is 5 s), so a request
    never meets a connection the worker is closing."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", "imagehost.app:create_app",
        "--host", host, "--port", str(port),
        "--no-proxy-headers", "--no-access-log", "--log-level", "warning",
        "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", str(WORKER_KEEP_ALIVE_SECONDS),
    ]


def run_stack(settings: Settings, port: int, workers: int, host: str = "127.0.0.1") -> int:
    """Run Nginx on host:port and `workers` uvicorn workers until SIGINT/SIGTERM; an exit code."""
    try:
        with _Signals() as signals, _Stack(settings, host, port, workers, signals) as stack:
            try:
                stack.start()
                print(f"Imagehost is ready at {stack.url} (Nginx and {workers} workers; "
                      f"Ctrl-C stops them)", flush=True)
                stack.supervise()
            except _StopRequested:
                pass
    except StackError as error:
        print(f"imagehost stack: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


class _Signals:
    """Signals and child exits as bytes on a socket, so one `select` waits for everything."""

    def __enter__(self) -> _Signals:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous = {sig: signal.signal(sig, _note_only) for sig in _WATCHED_SIGNALS}
        self.stop_requested = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()

    def wait(self, timeout: float) -> set[int]:
        """Signals received within `timeout` seconds (at once if some are pending)."""
        return self.wait_with(timeout, [], [])[0]

    def wait_with(self, timeout: float, readers: list[socket.socket],
                  writers: list[socket.socket]) -> tuple[set[int], list[socket.socket]]:
        """Signals received within `timeout` seconds, also ending the wait when one of
        `readers` is readable or one of `writers` writable; those are returned too."""
        received: set[int] = set()
        readable, writable, _ = select.select([self._reader, *readers], writers, [], max(timeout, 0.0))
        if self._reader in readable:
            try:
                while chunk := self._reader.recv(256):
                    received.update(chunk)
            except BlockingIOError:
                pass
        if received & _STOP_SIGNALS:
            self.stop_requested = True
        return received, [sock for sock in (*readable, *writable) if sock is not self._reader]

    def raise_if_stopping(self) -> None:
        if self.stop_requested:
            raise _StopRequested


def _note_only(signum: int, frame: FrameType | None) -> None:
    # The C-level handler has already written the signal number to the wakeup fd.
    pass


@dataclass
class _Worker:
    port: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = 0.0
    start_after: float = 0.0


class _Stack:
    def __init__(self, settings: Settings, host: str, port: int, workers: int, signals: _Signals) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.signals = signals
        self.nginx_binary = _find_nginx()
        self.frontend_dir = _frontend_dir()
        self.workers = [_Worker(port) for port in _free_loopback_ports(workers)]
        self.probes = WorkerProbes(WORKER_HOST)
        self.nginx: subprocess.Popen[bytes] | None = None
        self.run_dir: Path | None = None
        self.env = _worker_environment(settings)
        shown = f"[{host}]" if ":" in host else ("127.0.0.1" if host == "0.0.0.0" else host)
        self.url = f"http://{shown}:{port}/"

    def __enter__(self) -> _Stack:
        _check_port(self.host, self.port)
        self.run_dir = Path(tempfile.mkdtemp(prefix="imagehost-stack-"))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        # Workers first: connections Nginx finds refused mark a worker failed for a while.
        for worker in self.workers:
            self._spawn(worker)
        self._wait_until(self._workers_ready, "the workers did not answer /healthz")
        hashes = self._graphiql_hashes()
        conf = self._write_config(hashes)
        self._check_config(conf)
        self.nginx = _spawn_child([self.nginx_binary, "-p", str(self.run_dir), "-e", str(self._error_log),
                                   "-c", str(conf)], env=None)
        self._wait_until(self._nginx_ready, f"Nginx did not answer on port {self.port}")

    @property
    def _error_log(self) -> Path:
        return self.settings.log_dir / "nginx" / "error.log"

    def _spawn(self, worker: _Worker) -> None:
        worker.process = _spawn_child(worker_command(worker.port), env=self.env)
        worker.started_at = time.monotonic()
        self.probes.started(worker.port)

    def _wait_until(self, ready: Callable[[], bool], failure: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if time.monotonic() > deadline:
                raise StackError(f"{failure} within {START_TIMEOUT:.0f} s")
            self.signals.wait(0.1)
            self.signals.raise_if_stopping()

    def _workers_ready(self) -> bool:
        for worker in self.workers:
            assert worker.process is not None
            code = worker.process.poll()
            if code is not None:
                raise StackError(f"the worker on port {worker.port} exited during start-up "
                                 f"({_describe_exit(code)}); its error is above")
        return all(_answers(f"http://{WORKER_HOST}:{w.port}/healthz") for w in self.workers)

    def _nginx_ready(self) -> bool:
        assert self.nginx is not None
        code = self.nginx.poll()
        if code is not None:
            raise StackError(f"Nginx exited during start-up ({_describe_exit(code)}); see {self._error_log}")
        probe_host = "127.0.0.1" if self.host == "0.0.0.0" else ("::1" if self.host == "::" else self.host)
        shown = f"[{probe_host}]" if ":" in probe_host else probe_host
        return _answers(f"http://{shown}:{self.port}/healthz")

    def _graphiql_hashes(self) -> tuple[str, ...]:
        url = f"http://{WORKER_HOST}:{self.workers[0].port}/graphql"
        try:
            return fetch_graphiql_script_hashes(url)
        except OSError as error:
            print(f"imagehost stack: could not read the GraphiQL page ({error}); "
                  f"its inline script will be blocked by the Content-Security-Policy", file=sys.stderr)
            return ()

    def _write_config(self, graphiql_hashes: tuple[str, ...]) -> Path:
        assert self.run_dir is not None
        (self.settings.log_dir / "nginx").mkdir(parents=True, exist_ok=True)
        listen = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            site = render_site(SiteConfig(
                listen=listen,
                upstreams=tuple(f"{WORKER_HOST}:{worker.port}" for worker in self.workers),
                images_dir=self.settings.images_dir,
                frontend_dir=self.frontend_dir,
                log_dir=self.settings.log_dir,
                max_body_bytes=self.settings.max_body_bytes,
                public_url=self.settings.public_url,
                graphiql_script_hashes=graphiql_hashes,
            ))
            # As root, Nginx would switch its workers to `nobody`, who may not read the images:
            # run them as the user that runs the app instead.
            user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
            main = render_stack_main(self.run_dir, self.settings.log_dir, user)
        except NginxConfigError as error:
            raise StackError(str(error)) from None
        (self.run_dir / "imagehost.conf").write_text(site, encoding="utf-8")
        conf = self.run_dir / "nginx.conf"
        conf.write_text(main, encoding="utf-8")
        return conf

    def _check_config(self, conf: Path) -> None:
        check = subprocess.run(
            [self.nginx_binary, "-t", "-q", "-p", str(self.run_dir), "-e", str(self._error_log), "-c", str(conf)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
        )
        if check.returncode != 0:
            lines = [line.removeprefix("nginx: ") for line in check.stderr.splitlines() if line.strip()]
            reason = next((line for line in lines if "[emerg]" in line), lines[0] if lines else "")
            raise StackError(f"Nginx refused the configuration {conf}: {reason}")

    # -- run -------------------------------------------------------------------------------

    def supervise(self) -> None:
        """Restart dead workers, and replace hung ones, until a stop signal arrives; raise if
        Nginx itself dies."""
        while True:
            now = time.monotonic()
            pending = [w.start_after - now for w in self.workers if w.process is None]
            received, ready = self.signals.wait_with(min([1.0, self.probes.wait_at_most(), *pending]),
                                                     self.probes.readers(), self.probes.writers())
            self.signals.raise_if_stopping()
            self._kill_hung_workers(self.probes.advance(ready))
            assert self.nginx is not None
            if signal.SIGUSR1 in received:
                self.nginx.send_signal(signal.SIGUSR1)
            code = self.nginx.poll()
            if code is not None:
                raise StackError(f"Nginx exited ({_describe_exit(code)}); see {self._error_log}")
            self._restart_dead_workers()

    def _kill_hung_workers(self, hung_ports: list[int]) -> None:
        """SIGKILL (its whole process group) each worker that stopped answering; its exit is
        then seen like any other and it is restarted on the same port."""
        for worker in self.workers:
            if worker.port in hung_ports and worker.process is not None:
                print(f"imagehost stack: worker on port {worker.port} (pid {worker.process.pid}) did not "
                      f"answer /healthz {self.probes.hung_after} times in a row ({self.probes.timeout:g} s "
                      f"each); killing it", file=sys.stderr, flush=True)
                _signal_group(worker.process, signal.SIGKILL)

    def _restart_dead_workers(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.process is not None and (code := worker.process.poll()) is not None:
                self.probes.stopped(worker.port)
                lived = now - worker.started_at
                worker.backoff = min(max(worker.backoff * 2, 0.5), MAX_BACKOFF) if lived < QUICK_DEATH else 0.0
                worker.start_after = now + worker.backoff
                print(f"imagehost stack: worker on port {worker.port} (pid {worker.process.pid}) "
                      f"{_describe_exit(code)}; restarting"
                      + (f" in {worker.backoff:.1f} s" if worker.backoff else ""), file=sys.stderr, flush=True)
                worker.process = None
            if worker.process is None and now >= worker.start_after:
                self._spawn(worker)

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Nginx first (no new requests), then the workers; nothing is left running."""
        self.probes.close()
        if self.nginx is not None:
            _stop_children([self.nginx], signal.SIGQUIT)  # graceful: finish requests in flight
        _stop_children([w.process for w in self.workers if w.process is not None], signal.SIGTERM)
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def _stop_children(children: list[subprocess.Popen[bytes]], first_signal: signal.Signals) -> None:
    for child in children:
        _signal_group(child, first_signal)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            pass
    # Each child leads its own process group: this also takes Nginx's worker processes, or
    # anything a worker started, even if the leader is gone already.
    for child in children:
        _signal_group(child, signal.SIGKILL)
        child.wait()


def _signal_group(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _spawn_child(command: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL,
        process_group=0, preexec_fn=_die_with_parent(),  # noqa: PLW1509 - single-threaded here
    )


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def in_child() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return in_child


def _worker_environment(settings: Settings) -> dict[str, str]:
    """The stack's environment with the settings it resolved, so every worker agrees with Nginx
    (same absolute folders, same limits) whatever the worker's own `.env` look-up finds."""
    env = dict(os.environ)
    env.update({
        "IMAGEHOST_IMAGES_DIR": str(settings.images_dir.absolute()),
        "IMAGEHOST_LOG_DIR": str(settings.log_dir.absolute()),
        "IMAGEHOST_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        "IMAGEHOST_MAX_PIXELS": str(settings.max_pixels),
        "IMAGEHOST_MAX_FILES": str(settings.max_files),
        "IMAGEHOST_MIN_FREE_BYTES": str(settings.min_free_bytes),
        "IMAGEHOST_ALLOWED_HOSTS": " ".join(settings.allowed_hosts),  # with `--host`'s address (cli.py)
    })
    if settings.public_url:
        env["IMAGEHOST_PUBLIC_URL"] = settings.public_url
    return env


def _find_nginx() -> str:
    found = shutil.which("nginx")
    if found is None:  # Debian puts it in /usr/sbin, which a normal user's PATH often lacks
        found = shutil.which("nginx", path=os.pathsep.join(NGINX_FALLBACK_DIRS))
    if found is None:
        raise StackError("nginx was not found on PATH; install it (e.g. 'apt-get install nginx') "
                         "or use 'imagehost serve'")
    return found


def _frontend_dir() -> Path:
    try:
        return asset_dir("frontend")
    except FileNotFoundError as error:
        raise StackError(str(error)) from None


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Nginx does
        try:
            probe.bind((host, port))
        except OSError as error:
            hint = " (choose another with --port)" if error.errno in {98, 48} else ""
            raise StackError(f"cannot listen on {host}:{port}: {error.strerror}{hint}") from None


def _free_loopback_ports(count: int) -> list[int]:
    with _open_sockets(count) as sockets:
        for sock in sockets:
            sock.bind((WORKER_HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


@contextmanager
def _open_sockets(count: int) -> Iterator[list[socket.socket]]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _answers(url: str) -> bool:
    """Whether `url` gives any HTTP answer: a 503 from /healthz (say, disk below the free-space
    floor) is a worker that is up and can still serve what is stored; it says why it is not ok."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
