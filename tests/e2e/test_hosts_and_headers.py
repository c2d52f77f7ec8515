"""Browser and host hardening of a real `imagehost serve`: the Host allow-list (DNS rebinding, the
URL base), the cross-origin message for reads, and the security headers on every kind of answer."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imagehost.http.security_headers import CSP, IMAGE_CSP, SECURITY_HEADERS, graphiql_csp, inline_script_hashes, ui_csp

from tests.e2e._service import FIXTURE_BY_NAME, partial_uploads, stored_names, total_count
from tests.support import RunningServer, run_serve

PNG = FIXTURE_BY_NAME["alpha_earth.png"].data
UPLOAD = "mutation($f: Upload!) { uploadImage(file: $f) { __typename ... on Image { id url } } }"
COUNT = "{ images(first: 1) { totalCount } }"
BOUNDARY = "hostsandheaders"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(server: RunningServer, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
    """One request with exactly these headers (Host too, when given), and the admin's token."""
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    sent = {**server.auth, **{name.replace("_", "-"): value for name, value in headers.items()}}
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def multipart_upload() -> bytes:
    operations = json.dumps({"query": UPLOAD, "variables": {"f": None}})
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.f"]}}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="a.png"\r\n\r\n'
    ).encode() + PNG + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload(server: RunningServer, **headers: str) -> Reply:
    return call(server, "POST", "/graphql", multipart_upload(),
                Content_Type=f"multipart/form-data; boundary={BOUNDARY}", **headers)


def query(server: RunningServer, text: str = COUNT, **headers: str) -> Reply:
    return call(server, "POST", "/graphql", json.dumps({"query": text}).encode(), Content_Type="application/json", **headers)


def assert_refused(reply: Reply, status: int, code: str, says: str) -> None:
    assert reply.status == status, reply
    assert reply.headers["Content-Type"].startswith("application/json")
    [error] = reply.json()["errors"]
    assert error["extensions"]["code"] == code, error
    assert says in error["message"], error


def assert_nothing_stored(server: RunningServer) -> None:
    assert stored_names(server.images_dir) == set()
    assert partial_uploads(server.images_dir) == []
    assert total_count(server.url) == 0


def health_while(server: RunningServer, attack: Any, rounds: int) -> list[float]:
    """Run `attack` `rounds` times in a thread; meanwhile time /healthz from another connection (ms)."""
    done = threading.Event()
    failures: list[BaseException] = []

    def attacker() -> None:
        try:
            for _ in range(rounds):
                attack()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=attacker)
    thread.start()
    latencies: list[float] = []
    while not done.is_set() or not latencies:
        started = time.perf_counter()
        assert call(server, "GET", "/healthz").status == 200
        latencies.append((time.perf_counter() - started) * 1000)
    thread.join(30)
    assert not failures, failures
    return sorted(latencies)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("hosts"), allowed_hosts="*.example.net") as running:
        yield running


@pytest.fixture
def empty(server: RunningServer) -> RunningServer:
    assert total_count(server.url) == 0
    return server


# ---- the Host allow-list --------------------------------------------------------------------


def test_dns_rebinding_post_and_get_are_refused(empty: RunningServer) -> None:
    rebound = {"Host": "evil.example", "Origin": "http://evil.example"}

    def attack() -> None:
        assert_refused(upload(empty, **rebound), 400, "HOST_NOT_ALLOWED", "IMAGEHOST_ALLOWED_HOSTS")

    latencies = health_while(empty, attack, rounds=100)
    print(f"/healthz during 100 rebound uploads: {len(latencies)} answered, p50 {latencies[len(latencies) // 2]:.1f} ms, "
          f"max {latencies[-1]:.1f} ms")
    assert latencies[-1] < 1000

    listed = call(empty, "GET", "/graphql?" + urllib.parse.urlencode({"query": COUNT}), Accept="application/json", **rebound)
    assert_refused(listed, 400, "HOST_NOT_ALLOWED", "'evil.example'")
    for path in ("/", "/healthz", "/images/AAAAAAAAAAAAAAAAAAAAAA.png"):
        assert_refused(call(empty, "GET", path, **rebound), 400, "HOST_NOT_ALLOWED", "IMAGEHOST_ALLOWED_HOSTS")
    assert_nothing_stored(empty)


@pytest.mark.parametrize("host", ["evil.example:8000", "example.net", "127.0.0.1.evil.example", "[::2]:80",
                                  "localhost@evil.example", "x" * 5000])
def test_foreign_or_malformed_hosts_are_refused(empty: RunningServer, host: str) -> None:
    reply = upload(empty, Host=host)
    assert_refused(reply, 400, "HOST_NOT_ALLOWED", "host")
    assert len(reply.body) < 1000  # a huge Host is not echoed back whole
    assert_nothing_stored(empty)


def test_a_forwarded_host_from_a_trusted_proxy_must_pass_too(empty: RunningServer) -> None:
    # The test client connects from 127.0.0.1, a trusted proxy by default: its X-Forwarded-Host
    # would be the URL base, so it is vetted like Host.
    reply = upload(empty, X_Forwarded_Host="evil.example", X_Forwarded_Proto="https")
    assert_refused(reply, 400, "HOST_NOT_ALLOWED", "'evil.example'")
    assert_nothing_stored(empty)


def test_listed_hosts_are_the_url_base(server: RunningServer) -> None:
    port = urllib.parse.urlsplit(server.url).port
    for host, base in [("localhost", "http://localhost"), (f"[::1]:{port}", f"http://[::1]:{port}"),
                       ("app.localhost:81", "http://app.localhost:81"), ("Photos.Example.NET", "http://Photos.Example.NET")]:
        reply = upload(server, Host=host)
        image = reply.json()["data"]["uploadImage"]
        assert image["url"].startswith(base + "/images/"), (host, image)
    forwarded = upload(server, X_Forwarded_Host="cdn.example.net", X_Forwarded_Proto="https")
    assert forwarded.json()["data"]["uploadImage"]["url"].startswith("https://cdn.example.net/images/")
    parts = urllib.parse.urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")  # no Host at all: served, as the address reached
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    _delete_all(server)


def _delete_all(server: RunningServer) -> None:
    listed = query(server, "{ images(first: 100) { edges { node { id } } } }").json()
    for edge in listed["data"]["images"]["edges"]:
        query(server, f'mutation {{ deleteImage(id: "{edge["node"]["id"]}") {{ __typename }} }}')
    assert total_count(server.url) == 0


def test_a_public_url_server_accepts_its_own_host(tmp_path: Path) -> None:
    with run_serve(tmp_path, public_url="https://pics.example.org") as public:
        reply = upload(public, Host="pics.example.org", Origin="http://pics.example.org")
        image = reply.json()["data"]["uploadImage"]
        assert image["url"].startswith("https://pics.example.org/images/"), image
        assert_refused(upload(public, Host="evil.example"), 400, "HOST_NOT_ALLOWED", "IMAGEHOST_ALLOWED_HOSTS")
        assert total_count(public.url) == 1


# ---- cross-origin reads ---------------------------------------------------------------------


def test_a_cross_origin_read_is_refused_for_what_it_is(empty: RunningServer) -> None:
    reply = query(empty, Origin="https://other.example")
    assert_refused(reply, 403, "CROSS_ORIGIN_FORBIDDEN",
                   "Pages from https://other.example may not use this server's API from a browser")
    assert "change images" not in reply.json()["errors"][0]["message"]
    assert "IMAGEHOST_ALLOWED_ORIGINS" in reply.json()["errors"][0]["message"]
    same_origin = query(empty, Origin=empty.url)
    assert same_origin.status == 200 and same_origin.json() == {"data": {"images": {"totalCount": 0}}}


# ---- security headers -----------------------------------------------------------------------


def assert_hardened(reply: Reply, policy: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get_all(name) == [value], name
    assert reply.headers.get_all(CSP) == [policy]


def test_every_kind_of_answer_carries_the_security_headers(empty: RunningServer) -> None:
    page = call(empty, "GET", "/")
    assert page.status == 200 and b"<html" in page.body.lower()
    assert_hardened(page, ui_csp(None))
    assert "script-src 'self';" in page.headers[CSP] and "frame-ancestors 'none'" in page.headers[CSP]

    graphiql = call(empty, "GET", "/graphql", Accept="text/html")
    assert graphiql.status == 200 and b"graphiql" in graphiql.body.lower()
    hashes = inline_script_hashes(graphiql.body.decode())
    assert hashes and re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", hashes[0])
    assert_hardened(graphiql, graphiql_csp(hashes))

    image = upload(empty).json()["data"]["uploadImage"]
    image_bytes = call(empty, "GET", urllib.parse.urlsplit(image["url"]).path)
    assert image_bytes.status == 200 and image_bytes.body.startswith(b"\x89PNG\r\n\x1a\n")  # metadata stripped, so not the same bytes
    assert_hardened(image_bytes, IMAGE_CSP)
    assert_hardened(call(empty, "GET", "/images/AAAAAAAAAAAAAAAAAAAAAA.png"), IMAGE_CSP)

    assert_hardened(call(empty, "GET", "/healthz"), ui_csp(None))
    answer = query(empty)
    assert answer.status == 200 and answer.json() == {"data": {"images": {"totalCount": 1}}}
    assert_hardened(answer, ui_csp(None))
    assert_hardened(upload(empty, Host="evil.example"), ui_csp(None))  # refusals too
    _delete_all(empty)
