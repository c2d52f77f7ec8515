"""The real ASGI app, in process, driven through Starlette's TestClient (httpx)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from imagehost.app import create_app
from imagehost.settings import Settings
from starlette.datastructures import Secret
from tests.support import ADMIN, ADMIN_PASSWORD, SESSION_COOKIE

UPLOAD_ONE = """
mutation($file: Upload!) {
  uploadImage(file: $file) {
    __typename
    ... on Image { id filename contentType size width height url createdAt }
    ... on UploadError { code message rejected: filename }
  }
}"""

UPLOAD_MANY = """
mutation($files: [Upload!]!) {
  uploadImages(files: $files) {
    __typename
    ... on Image { id filename contentType size url }
    ... on UploadError { code message rejected: filename }
  }
}"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(images_dir=tmp_path / "images", log_dir=tmp_path / "logs", max_upload_bytes=512 * 1024, max_files=4,
                    allowed_hosts=("img.test", "photos.example.net"),  # the test client's host, a forwarded one
                    min_free_bytes=1024 * 1024, admin_password=Secret(ADMIN_PASSWORD))


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(peer: str = "192.0.2.10", signed_in: bool = True, **changes: Any) -> TestClient:
        """A client of a new app on the settings; `signed_in`: with an API token of the admin."""
        app = create_app(replace(settings, **changes))
        client = TestClient(app, base_url="http://img.test", client=(peer, 50000))
        client.__enter__()
        clients.append(client)
        if signed_in:
            client.headers["Authorization"] = f"Bearer {api_token(client, ADMIN, ADMIN_PASSWORD)}"
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def sign_in(client: TestClient, username: str, password: str) -> str:
    """Sign in like the browser UI does; the session cookie's value (also kept in the client's jar)."""
    response = client.post(
        "/graphql",
        json={"query": "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { __typename } }",
              "variables": {"u": username, "p": password}},
    )
    assert response.json()["data"]["signIn"]["__typename"] == "SignedIn", response.text
    return str(response.cookies[SESSION_COOKIE])


def api_token(client: TestClient, username: str, password: str) -> str:
    """A new API token of the account, made through a browser session (then dropped from the jar)."""
    session = sign_in(client, username, password)
    client.cookies.clear()
    response = client.post(
        "/graphql",
        json={"query": "mutation { createApiToken(label: \"tests\") { secret } }"},
        headers={"Cookie": f"{SESSION_COOKIE}={session}", "Origin": str(client.base_url)},
    )
    return str(response.json()["data"]["createApiToken"]["secret"])


def gql(client: TestClient, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(client: TestClient, files: list[tuple[str, bytes]], **kwargs: Any) -> Any:
    """A GraphQL multipart request (operations, map, files) for one or several files."""
    if len(files) == 1:
        operations = {"query": UPLOAD_ONE, "variables": {"file": None}}
        mapping = {"0": ["variables.file"]}
    else:
        operations = {"query": UPLOAD_MANY, "variables": {"files": [None] * len(files)}}
        mapping = {str(n): [f"variables.files.{n}"] for n in range(len(files))}
    response = client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
        files=[(str(n), (name, data, "application/octet-stream")) for n, (name, data) in enumerate(files)],
        **kwargs,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data["uploadImage"] if len(files) == 1 else data["uploadImages"]
