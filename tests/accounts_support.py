"""What the accounts tests share (through `serve` and through the stack): who asks, and how."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.support import session_headers, sign_in

UPLOAD = ("mutation($f: Upload!) { uploadImage(file: $f) { __typename"
          " ... on Image { id url deleteToken owner { username } } ... on UploadError { code message } } }")
DELETE = ("mutation($id: ID!, $t: String) { deleteImage(id: $id, deleteToken: $t) { __typename"
          " ... on ImageNotFound { message } } }")
LIST = "query($all: Boolean!) { images(first: 100, all: $all) { totalCount edges { node { id owner { username } } } } }"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def codes(self) -> list[str | None]:
        return [error.get("extensions", {}).get("code") for error in self.body.get("errors", [])]


def ask(url: str, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
        source: str | None = None) -> Answer:
    """A JSON GraphQL POST with `headers`, optionally from another loopback address (`source`)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return _post(url, body, {"Content-Type": "application/json", **(headers or {})}, source)


def upload(url: str, data: bytes, headers: dict[str, str] | None = None, name: str = "photo.png",
           source: str | None = None) -> Answer:
    """A GraphQL multipart upload of one file."""
    boundary = uuid.uuid4().hex
    operations = json.dumps({"query": UPLOAD, "variables": {"f": None}})
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return _post(url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})}, source)


def _post(url: str, body: bytes, headers: dict[str, str], source: str | None) -> Answer:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=30, source_address=(source, 0) if source else None
    )
    try:
        connection.request("POST", "/graphql", body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return Answer(response.status, json.loads(raw) if raw else {}, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def announce_body(port: int, host: str, length: int) -> tuple[str, float]:
    """Send an upload's headers announcing `length` bytes and none of them: the answer as text and
    how long it took (a server that waited for the body would answer only at its read timeout)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())
        received = b""
        while b"}]}" not in received and time.monotonic() - started < 5:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.decode(errors="replace"), time.monotonic() - started


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_token(url: str, headers: dict[str, str], label: str = "tests") -> tuple[str, str]:
    """(id, secret) of a new API token made with `headers`' credentials."""
    answer = ask(url, "mutation($l: String!) { createApiToken(label: $l) { token { id } secret } }", {"l": label}, headers)
    made = answer.data["createApiToken"]
    return str(made["token"]["id"]), str(made["secret"])


def browser_session(url: str, username: str, password: str) -> dict[str, str]:
    """The headers a same-origin page sends once signed in."""
    return session_headers(url, sign_in(url, username, password))


def image_ids(url: str, headers: dict[str, str], everyone: bool = False) -> set[str]:
    answer = ask(url, LIST, {"all": everyone}, headers)
    assert answer.status == 200 and not answer.codes, answer
    return {edge["node"]["id"] for edge in answer.data["images"]["edges"]}


