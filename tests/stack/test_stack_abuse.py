"""The stack (real Nginx + 2 workers) under attack from 127.0.0.2 while 127.0.0.1 is served: a
crowd of 2,200 slow-header connections, slow bodies past the per-address limit, an oversized
header, and a worker that hangs (SIGSTOP)."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imagehost.assets import asset_dir
from imagehost.http.connection_limits import HEAD_TIMEOUT_SECONDS, MAX_CONNECTIONS_PER_CLIENT
from imagehost.http.read_timeouts import BODY_IDLE_SECONDS
from imagehost.nginx_config import SiteConfig, render_site, render_stack_main
from imagehost.worker_probe import HUNG_AFTER

from bench.attack_clients import RawRequest, SlowHeaders, exchange
from bench.health_probe import HealthProbe
from bench.processes import descendants
from tests.serve.slow_clients import ATTACKER, answered, connect
from tests.stack.stack_helpers import COUNT, alive, png_bytes, post_json, request, upload, worker_ports
from tests.stack.test_stack import Stack, running_stack

SLOW_CROWD = 2_200
"""The issue's crowd: it took all of 1024 worker_connections before, for 20 s."""
MARGIN = 1.5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("abuse")) as running:
        yield running


def total_count(stack: Stack) -> int:
    return int(post_json(stack.url, COUNT).json()["data"]["images"]["totalCount"])


def stored_files(stack: Stack) -> int:
    return sum(1 for p in stack.images_dir.iterdir() if p.name != ".imagehost" and ".thumb." not in p.name)


def uploaded(reply: Any) -> bool:
    return bool(reply.status == 200 and reply.json()["data"]["uploadImage"]["__typename"] == "Image")


def nginx_fds(stack: Stack) -> int:
    count = 0
    for pid in descendants(stack.process.pid):
        try:
            if (Path("/proc") / str(pid) / "cmdline").read_bytes().startswith(b"nginx: worker"):
                count += len(list((Path("/proc") / str(pid) / "fd").iterdir()))
        except OSError:
            continue
    return count


def test_nginx_holds_the_same_limits_as_serve(tmp_path: Path) -> None:
    """One set of numbers for both shapes (serve's are in Python, Nginx's in its template)."""
    site = render_site(SiteConfig(listen="127.0.0.1:8080", upstreams=("127.0.0.1:8001",), images_dir=tmp_path,
                                  frontend_dir=asset_dir("frontend"), log_dir=tmp_path, max_body_bytes=4096))
    assert f"client_header_timeout {HEAD_TIMEOUT_SECONDS:g}s;" in site
    assert f"client_body_timeout {BODY_IDLE_SECONDS:g}s;" in site
    assert f"limit_conn imagehost_per_address {MAX_CONNECTIONS_PER_CLIENT};" in site
    assert f"(at most {MAX_CONNECTIONS_PER_CLIENT})" in site
    main = render_stack_main(tmp_path / "run", tmp_path, None)
    connections = int(re.search(r"worker_connections (\d+);", main)[1])  # type: ignore[index]
    files = int(re.search(r"worker_rlimit_nofile (\d+);", main)[1])  # type: ignore[index]
    assert connections >= 2 * SLOW_CROWD and files >= 2 * connections


def test_an_oversized_header_is_a_json_431_from_nginx(stack: Stack) -> None:
    for value in ("b" * 50_000_000, "b" * 20_000):
        raw = RawRequest("GET", "/healthz", (("X-Big", value),))
        started = time.monotonic()
        answer = exchange("127.0.0.1", stack.port, raw.encode("127.0.0.1", stack.port), timeout=10)
        assert answer.status == 431, answer
        assert answer.headers.get("content-type") == "application/json"
        assert answer.body.startswith(b'{"errors":[{"message":"The request headers are larger')
        assert b'"code":"HEADERS_TOO_LARGE"' in answer.body
        assert time.monotonic() - started < 2
    assert request(stack.url + "/healthz").status == 200


def test_requests_in_progress_per_address_are_capped(stack: Stack) -> None:
    """40 uploads from 127.0.0.2 whose bodies never come: 32 are let in (Nginx buffers them and
    waits), the rest get a JSON 429 at once; 127.0.0.1 is served meanwhile."""
    before = total_count(stack)
    head = (f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\nContent-Type: multipart/form-data; "
            f"boundary=b\r\nAuthorization: Bearer {stack.token}\r\nContent-Length: 100000\r\n\r\n--b\r\n").encode()
    socks = []
    try:
        for _ in range(MAX_CONNECTIONS_PER_CLIENT + 8):
            sock = connect(stack.port)
            sock.sendall(head)
            socks.append(sock)
        time.sleep(0.5)
        answers = [answered(sock, wait=0.05) for sock in socks]
        health = request(stack.url + "/healthz")
        bystander = upload(stack.url, png_bytes(12, 12))
    finally:
        for sock in socks:
            sock.close()
    refused = [a for a in answers if a is not None]
    print(f"{len(socks)} slow uploads from {ATTACKER}: {len(socks) - len(refused)} let in, {len(refused)} refused")
    assert len(refused) == 8, answers
    for status, body in refused:
        assert status == 429
        assert b'"code":"TOO_MANY_CONNECTIONS"' in body and b"(at most 32)" in body
    assert health.status == 200 and uploaded(bystander), bystander.body
    assert total_count(stack) == before + 1


def test_2200_slow_heads_from_one_address_leave_another_served(stack: Stack) -> None:
    """The issue's slowloris: 2,200 connections from 127.0.0.2 that send headers a byte a second
    (and reconnect when cut) for 12 s. Nginx has room for them and cuts each after
    client_header_timeout; /healthz and an upload from 127.0.0.1 are served throughout."""
    before = total_count(stack)
    quiet = HealthProbe("127.0.0.1", stack.port)
    with quiet:
        time.sleep(2)
    crowd = SlowHeaders("127.0.0.1", stack.port, connections=SLOW_CROWD, hold_seconds=12)
    outcome: dict[str, Any] = {}
    with HealthProbe("127.0.0.1", stack.port) as probe:
        attack = threading.Thread(target=lambda: outcome.update(crowd.run()))
        attack.start()
        time.sleep(4)
        fds_during = nginx_fds(stack)
        bystander = upload(stack.url, png_bytes(30, 30))
        attack.join(40)
    figures = probe.figures()
    print(f"{SLOW_CROWD} slow heads from {ATTACKER}: {outcome}; Nginx worker fds during: {fds_during}; "
          f"bystander /healthz quiet {quiet.figures()}, during {figures}")

    assert outcome["connected"] >= SLOW_CROWD and outcome["connect_failed"] == 0, outcome
    # Cut without an answer: closed, or reset (reset_timedout_connection) when the reset wins.
    assert set(outcome["answers"]) <= {"closed", "reset"} and outcome["cut"] >= SLOW_CROWD, outcome
    assert HEAD_TIMEOUT_SECONDS - 0.5 <= outcome["cut_after_ms_p50"] / 1000 <= HEAD_TIMEOUT_SECONDS + MARGIN, outcome
    assert fds_during >= SLOW_CROWD  # the crowd really was held, and fitted
    assert figures["healthz_failed"] == 0 and figures["healthz_p99_ms"] < 500, figures
    assert uploaded(bystander), bystander.body
    assert total_count(stack) == before + 1
    assert "worker_connections are not enough" not in (stack.log_dir / "nginx" / "error.log").read_text()


def test_a_hung_worker_is_replaced_while_nginx_routes_around_it(stack: Stack) -> None:
    """SIGSTOP one worker while a client asks /healthz through Nginx without pause. Nginx gives
    up on the hung worker after 3 s and asks the other; the supervisor sees the worker miss its
    probes, kills it and starts a new one on the same port, well within 10 s."""
    workers = worker_ports(stack.process.pid)
    assert len(workers) == 2, workers
    victim_port, victim_pid = min(workers.items())
    times: list[float] = []
    failures: list[str] = []
    stop = threading.Event()

    def ask_continuously() -> None:
        while not stop.is_set() and len(times) < 2000:
            started = time.monotonic()
            try:
                reply = request(stack.url + "/healthz", timeout=10)
                if reply.status != 200:
                    failures.append(f"{reply.status} {reply.body[:100]!r}")
            except Exception as error:  # noqa: BLE001 - every failure counts
                failures.append(repr(error))
            times.append(time.monotonic() - started)

    asker = threading.Thread(target=ask_continuously)
    asker.start()
    stopped_at = replaced_at = answering_at = None
    try:
        time.sleep(1)
        os.kill(victim_pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        while time.monotonic() < stopped_at + 20:
            new_pid = worker_ports(stack.process.pid).get(victim_port)
            if replaced_at is None and new_pid is not None and new_pid != victim_pid and not alive(victim_pid):
                replaced_at = time.monotonic()
            if replaced_at is not None:
                try:
                    if request(f"http://127.0.0.1:{victim_port}/healthz", timeout=2).status == 200:
                        answering_at = time.monotonic()
                        break
                except OSError:
                    pass
            time.sleep(0.05)
        time.sleep(1)  # the new worker back in Nginx's rotation
    finally:
        stop.set()
        asker.join(15)
        if alive(victim_pid):  # the supervisor did not do its job: leave nothing stopped
            os.kill(victim_pid, signal.SIGKILL)
            os.kill(victim_pid, signal.SIGCONT)

    assert replaced_at is not None and answering_at is not None, "the hung worker was not replaced"
    print(f"hung worker replaced after {replaced_at - stopped_at:.1f} s, answering after "
          f"{answering_at - stopped_at:.1f} s; {len(times)} GET /healthz through Nginx meanwhile: "
          f"{len(failures)} failed {failures[:3]}, slowest {max(times):.2f} s")
    assert replaced_at - stopped_at <= 10
    assert answering_at - stopped_at <= 12
    assert len(failures) <= 1, failures
    assert max(times) < 5  # a GET on the hung worker waits for proxy_read_timeout (3 s), then the other
    stderr = stack.stderr.read_text()
    assert f"worker on port {victim_port} (pid {victim_pid}) did not answer /healthz {HUNG_AFTER} times" in stderr
    assert f"(pid {victim_pid}) was killed by SIGKILL; restarting" in stderr

    before = total_count(stack)
    replies = [upload(stack.url, png_bytes(8 + i, 8)) for i in range(6)]
    assert all(uploaded(reply) for reply in replies), [reply.body[:200] for reply in replies]
    assert total_count(stack) == before + 6
    assert stored_files(stack) == total_count(stack)
