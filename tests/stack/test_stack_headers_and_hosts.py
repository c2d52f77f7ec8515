"""The stack and `imagehost serve` send the same security headers, from one table; the stack's
workers refuse foreign hosts behind Nginx, while its own health probes pass."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator

import pytest
from imagehost.http.security_headers import CSP, IMAGE_CSP, SECURITY_HEADERS, graphiql_csp, ui_csp

from tests.stack.stack_helpers import Reply, multipart_upload, nginx_binary, png_bytes, post_json, request, upload
from tests.stack.test_stack import Stack, running_stack
from tests.support import RunningServer, run_serve

HARDENING = (CSP, *SECURITY_HEADERS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx_binary()
    with running_stack(tmp_path_factory.mktemp("headers-stack"), workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("headers-serve")) as running:
        yield running


def one_of_each_kind(base_url: str) -> dict[str, Reply]:
    """The UI, GraphiQL, an image's bytes, a missing image, /healthz, a JSON answer and a refusal."""
    image = upload(base_url, png_bytes()).json()["data"]["uploadImage"]
    replies = {
        "ui": request(base_url + "/"),
        "ui-script": request(base_url + "/js/main.js"),
        "graphiql": request(base_url + "/graphql", headers={"Accept": "text/html"}),
        "image": request(base_url + urllib.parse.urlsplit(image["url"]).path),
        "missing-image": request(base_url + "/images/AAAAAAAAAAAAAAAAAAAAAA.png"),
        "healthz": request(base_url + "/healthz"),
        "json-answer": post_json(base_url, "{ images(first: 1) { totalCount } }"),
        "foreign-host": post_json(base_url, "{ __typename }", {"Host": "evil.example"}),
    }
    statuses = {kind: reply.status for kind, reply in replies.items()}
    assert statuses == {"ui": 200, "ui-script": 200, "graphiql": 200, "image": 200, "missing-image": 404,
                        "healthz": 200, "json-answer": 200, "foreign-host": 400}, statuses
    return replies


def hardening_of(reply: Reply) -> dict[str, list[str]]:
    return {name: reply.headers.get_all(name) or [] for name in HARDENING}


def test_serve_and_the_stack_send_the_same_security_headers(stack: Stack, serve: RunningServer) -> None:
    through_nginx = one_of_each_kind(stack.url)
    from_serve = one_of_each_kind(serve.url)
    assert through_nginx["ui"].headers["Server"] == "nginx"

    for kind in through_nginx:
        assert hardening_of(through_nginx[kind]) == hardening_of(from_serve[kind]), kind
        for name, value in SECURITY_HEADERS.items():
            assert through_nginx[kind].headers.get_all(name) == [value], (kind, name)  # once: the worker's is hidden

    policies = {kind: reply.headers[CSP] for kind, reply in through_nginx.items()}
    assert policies["ui"] == policies["ui-script"] == policies["healthz"] == policies["json-answer"] == ui_csp(None)
    assert policies["foreign-host"] == ui_csp(None)
    assert policies["image"] == policies["missing-image"] == IMAGE_CSP
    assert policies["graphiql"].startswith(graphiql_csp(())[: graphiql_csp(()).index("script-src")])
    assert "'sha256-" in policies["graphiql"]


def test_behind_nginx_a_foreign_host_is_refused_by_the_workers(stack: Stack) -> None:
    count = "{ images(first: 1) { totalCount } }"
    before = post_json(stack.url, count).json()["data"]["images"]["totalCount"]

    rebound = upload(stack.url, png_bytes(), headers={"Host": "evil.example", "Origin": "http://evil.example"})
    assert rebound.status == 400, rebound
    [error] = rebound.json()["errors"]
    assert error["extensions"]["code"] == "HOST_NOT_ALLOWED" and "IMAGEHOST_ALLOWED_HOSTS" in error["message"]
    listed = request(stack.url + "/graphql?" + urllib.parse.urlencode({"query": count}),
                     headers={"Host": "evil.example", "Accept": "application/json"})
    assert listed.status == 400 and listed.json()["errors"][0]["extensions"]["code"] == "HOST_NOT_ALLOWED"

    assert post_json(stack.url, count).json()["data"]["images"]["totalCount"] == before
    assert request(stack.url + "/healthz").status == 200  # Host 127.0.0.1:port, as the stack's own probe
    local = upload(stack.url, png_bytes(), headers={"Host": f"localhost:{stack.port}"}).json()["data"]["uploadImage"]
    assert local["url"].startswith(f"http://localhost:{stack.port}/images/"), local


def test_a_stacks_client_address_is_the_one_nginx_saw(stack: Stack) -> None:
    # From 127.0.0.2, which is no trusted proxy: whatever it claims to forward for, it is the client.
    body, content_type = multipart_upload(png_bytes())
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10, source_address=("127.0.0.2", 0))
    try:
        connection.request("POST", "/graphql", body=body,
                           headers={"Content-Type": content_type, "X-Forwarded-For": "6.6.6.6, 127.0.0.1", **stack.auth})
        response = connection.getresponse()
        image = json.loads(response.read())["data"]["uploadImage"]
    finally:
        connection.close()
    assert image["__typename"] == "Image"
    [line] = [line for line in (stack.log_dir / "app.log").read_text().splitlines() if f"id={image['id']}" in line]
    assert " client=127.0.0.2 " in line, line
