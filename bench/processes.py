"""The processes a run needs, each stopped on exit whatever happens: `imagehost stack`, the
ceiling's discard workers, and the ceiling's Nginx (upload proxy + plain static files).

Every child starts in its own process group, so the whole group (Nginx's workers included) can
be killed by id at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from imagehost.assets import asset_dir
from imagehost.nginx_config import SiteConfig, render_site, render_stack_main
from imagehost.stack import worker_command

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 120.0  # two workers importing Strawberry at once on a busy two-core machine
STOP_TIMEOUT = 15.0
ADMIN_PASSWORD = "bench-admin-password"
"""The first admin's password on every server the bench starts (bench.accounts signs in with it)."""
SERVER_SETTINGS = {
    # Uploads are refused below this much free disk (issue 12 sets a 1 GiB default floor); the
    # bench's own images would cross a 1 GiB floor on a small disk and measure refusals instead.
    "IMAGEHOST_MIN_FREE_BYTES": str(1024 * 1024),
    # The first admin's password (issue 13), so the bench can sign in and make its API token; a
    # checkout from before accounts ignores it.
    "IMAGEHOST_ADMIN_PASSWORD": ADMIN_PASSWORD,
}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """Why the benchmark cannot go on; str() is one line."""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_answers(urls: list[str], processes: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = list(urls)
    while pending:
        for process in processes:
            if process.poll() is not None:
                raise BenchError(f"{what} exited during start-up (code {process.returncode})")
        pending = [url for url in pending if not answers(url)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not answer {pending[0]} within {START_TIMEOUT:.0f} s")
        time.sleep(0.1)


def spawn(command: list[str], log: IO[bytes], env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=cwd, process_group=0)


def stop(process: subprocess.Popen[bytes] | None, first: signal.Signals = signal.SIGTERM) -> None:
    """`first` to the process, then SIGKILL to its whole group once it exits or times out."""
    if process is None:
        return
    if process.poll() is None:
        try:
            process.send_signal(first)
            process.wait(STOP_TIMEOUT)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def kill_pids(pids: set[int]) -> None:
    """SIGKILL the given pids (processes we started, found at start-up) if they are still alive."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def descendants(root: int) -> set[int]:
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def command_line(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def cpu_ms(pid: int) -> float:
    """User + system CPU time the process has used so far, in ms (0 once it is gone)."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / _CLOCK_TICKS


def option_value(command: list[str], option: str) -> str | None:
    return command[command.index(option) + 1] if option in command[:-1] else None


@dataclass(frozen=True)
class Installation:
    """Which `imagehost` a server is started from, and the environment it gets: ours (this
    interpreter's), or another checkout's own virtualenv (the A/B baseline)."""

    command: tuple[str, ...]
    env: dict[str, str]
    label: str = "ours"


def our_installation() -> Installation:
    script = Path(sys.executable).parent / "imagehost"
    command = (str(script),) if script.exists() else (sys.executable, "-m", "imagehost")
    return Installation(command, dict(os.environ))


def ceiling_worker_command(port: int) -> list[str]:
    """Our worker's command line (same uvicorn flags), with the discard app instead of ours."""
    command = worker_command(port, HOST)
    app = command.index("--factory")
    command[app:app + 2] = ["bench.ceiling_app:app", "--app-dir", str(REPO)]
    return command


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise BenchError("nginx was not found (apt-get install nginx)")
    return found


class Stack:
    """`imagehost stack --port P --workers N` with its images and logs in `root`."""

    def __init__(self, root: Path, workers: int, installation: Installation | None = None) -> None:
        self.root = root
        self.workers = workers
        self.installation = installation or our_installation()
        self.images_dir = root / "images"
        self.log_dir = root / "logs"
        self.app_log = self.log_dir / "app.log"
        self.edge_log: Path | None = self.log_dir / "nginx" / "access.log"
        self.port = free_ports(1)[0]
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.known_pids: set[int] = set()
        self.token: str | None = None
        """The admin's API token, made once the server answers; None on a server without accounts."""
        self._log: IO[bytes] | None = None

    @property
    def auth(self) -> dict[str, str]:
        """Headers every GraphQL request to this server carries (`Authorization: Bearer`, or none)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def command(self) -> list[str]:
        return [*self.installation.command, "stack", "--port", str(self.port), "--workers", str(self.workers)]

    def spawn(self) -> None:
        self.images_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.installation.env, **SERVER_SETTINGS, "IMAGEHOST_IMAGES_DIR": str(self.images_dir),
               "IMAGEHOST_LOG_DIR": str(self.log_dir)}
        self._log = (self.root / "stack.out").open("ab")
        # cwd = the run folder, so no `.env` of the clone changes the settings.
        self.process = spawn(self.command(), self._log, env=env, cwd=self.root)

    def wait_ready(self) -> None:
        assert self.process is not None
        what = f"imagehost {self.command()[len(self.installation.command)]} ({self.installation.label})"
        try:
            wait_until_answers([f"{self.url}/healthz"], [self.process], what)
        except BenchError:
            print(self.output(), flush=True)
            raise
        self.known_pids |= descendants(self.process.pid)
        from bench.accounts import api_token  # here: bench.accounts imports this module

        self.token = api_token(self.url)

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [pid for pid in children(self.process.pid) if "uvicorn" in " ".join(command_line(pid))]

    def recover(self, busy: list[int]) -> str:
        """SIGKILL the workers still busy with an attack; the stack starts new ones on the same
        ports. Back when each worker answers again."""
        assert self.process is not None
        busy = [pid for pid in busy if pid in self.worker_pids()]  # still ours, not a reused pid
        kill_pids(set(busy))
        self.known_pids -= set(busy)  # gone: their pids may be another process's by the end
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            pids = [pid for pid in self.worker_pids() if pid not in busy]
            ports = [option_value(command_line(pid), "--port") for pid in pids]
            if len(pids) == self.workers and all(ports) and all(
                    answers(f"http://{HOST}:{port}/healthz") for port in ports):
                self.known_pids |= descendants(self.process.pid)
                return f"killed {len(busy)} busy worker(s); the stack replaced them"
            time.sleep(0.2)
        raise BenchError(f"the stack did not replace {len(busy)} killed worker(s) within {START_TIMEOUT:.0f} s")

    def output(self) -> str:
        path = self.root / "stack.out"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        # SIGTERM: the stack stops Nginx, then its workers, and leaves nothing behind.
        stop(self.process, signal.SIGTERM)
        kill_pids(self.known_pids)
        if self._log is not None:
            self._log.close()


class Serve(Stack):
    """`imagehost serve --port P`: the one-process shape, no Nginx in front."""

    def __init__(self, root: Path, installation: Installation | None = None) -> None:
        super().__init__(root, 1, installation)
        self.edge_log = None

    def command(self) -> list[str]:
        return [*self.installation.command, "serve", "--host", HOST, "--port", str(self.port)]

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid] if self.process.poll() is None else []

    def recover(self, busy: list[int]) -> str:
        """Restart the process (same port, folders and catalog)."""
        stop(self.process, signal.SIGKILL)
        self.known_pids.clear()  # all gone with its process group
        if self._log is not None:
            self._log.close()
        self.spawn()
        self.wait_ready()
        return "killed the busy server and started it again"


class Ceiling:
    """Discard (and store-only) workers behind the stack's Nginx template, plus a plain static
    server for `images_dir`. Stored bodies go to `store_dir`, beside the stack's images."""

    def __init__(self, root: Path, workers: int, images_dir: Path, max_body_bytes: int) -> None:
        self.root = root
        self.run_dir = root / "nginx-run"
        self.log_dir = root / "logs"
        self.images_dir = images_dir
        self.store_dir = images_dir.parent / "ceiling-stored"
        self.max_body_bytes = max_body_bytes
        self.worker_ports = free_ports(workers)
        self.proxy_port, self.static_port = free_ports(2)
        self.proxy_url = f"http://{HOST}:{self.proxy_port}"
        self.static_url = f"http://{HOST}:{self.static_port}"
        self.workers: list[subprocess.Popen[bytes]] = []
        self.nginx: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def spawn_workers(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._log = (self.root / "ceiling.out").open("wb")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CEILING_STORE_DIR": str(self.store_dir)}
        for port in self.worker_ports:
            self.workers.append(spawn(ceiling_worker_command(port), self._log, env=env))

    def start_nginx(self) -> None:
        assert self._log is not None
        wait_until_answers([f"http://{HOST}:{port}/healthz" for port in self.worker_ports], self.workers,
                           "a ceiling worker")
        for folder in (self.run_dir, self.log_dir / "nginx"):
            folder.mkdir(parents=True, exist_ok=True)
        site = render_site(SiteConfig(
            listen=f"{HOST}:{self.proxy_port}",
            upstreams=tuple(f"{HOST}:{port}" for port in self.worker_ports),
            images_dir=self.images_dir,
            frontend_dir=asset_dir("frontend"),
            log_dir=self.log_dir,
            max_body_bytes=self.max_body_bytes,
        ))
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        (self.run_dir / "imagehost.conf").write_text(site + self.static_server(), encoding="utf-8")
        conf = self.run_dir / "nginx.conf"
        conf.write_text(render_stack_main(self.run_dir, self.log_dir, user), encoding="utf-8")
        error_log = self.log_dir / "nginx" / "error.log"
        check = subprocess.run([nginx_binary(), "-t", "-q", "-p", str(self.run_dir), "-e", str(error_log),
                                "-c", str(conf)], capture_output=True, text=True, timeout=30, check=False)
        if check.returncode != 0:
            raise BenchError(f"Nginx refused the ceiling configuration {conf}: {check.stderr.strip()}")
        self.nginx = spawn([nginx_binary(), "-p", str(self.run_dir), "-e", str(error_log), "-c", str(conf)],
                           self._log)
        wait_until_answers([f"{self.proxy_url}/healthz"], [self.nginx], "the ceiling's Nginx")

    def static_server(self) -> str:
        """Plain static files: the same sendfile settings as ours (and, like ours, no
        open_file_cache) and the same access log format, without our locations, maps and headers."""
        return f"""
server {{
    listen {HOST}:{self.static_port};
    server_name _;
    access_log "{self.log_dir}/nginx/static-access.log" imagehost;
    sendfile on;
    tcp_nopush on;
    location /images/ {{
        alias "{self.images_dir}/";
    }}
}}
"""

    def stop(self) -> None:
        stop(self.nginx, signal.SIGQUIT)
        for worker in self.workers:
            stop(worker, signal.SIGTERM)
        if self._log is not None:
            self._log.close()
