"""Accounts through the production shape: Nginx in front of two workers sharing one catalog."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts_support import DELETE, announce_body, ask, bearer, browser_session, image_ids, new_token, upload
from tests.imagedata import drawn_png
from tests.stack.test_stack import Stack, running_stack
from tests.support import ADMIN, ADMIN_PASSWORD, post_graphql, token_for

VIEWER = "{ viewer { username } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack-accounts")) as running:
        yield running


def worker_pids_of(stack: Stack, since: int) -> set[str]:
    """Pids of the workers whose access lines for /graphql came after byte `since` of app.log."""
    log = (stack.log_dir / "app.log").read_text()[since:]
    return set(re.findall(r"pid=(\d+) imagehost\.access request client=\S+ method=POST path=/graphql", log))


def log_size(stack: Stack) -> int:
    return len((stack.log_dir / "app.log").read_text())


def test_sessions_and_tokens_work_on_every_worker_and_revocation_is_immediate(stack: Stack) -> None:
    admin = bearer(token_for(stack.url, ADMIN, ADMIN_PASSWORD))
    session = browser_session(stack.url, ADMIN, ADMIN_PASSWORD)
    token_id, secret = new_token(stack.url, session, "from the stack")
    token = bearer(secret)
    start = log_size(stack)
    for _ in range(12):
        assert ask(stack.url, VIEWER, None, session).data == {"viewer": {"username": ADMIN}}
        assert ask(stack.url, VIEWER, None, token).data == {"viewer": {"username": ADMIN}}
    assert len(worker_pids_of(stack, start)) == 2  # both workers served them

    assert ask(stack.url, "mutation($id: ID!) { revokeApiToken(id: $id) }", {"id": token_id}, admin).data == {
        "revokeApiToken": True}
    start = log_size(stack)
    for _ in range(8):
        answer = ask(stack.url, VIEWER, None, token)
        assert answer.status == 401 and answer.codes == ["INVALID_TOKEN"]
    assert ask(stack.url, "mutation { signOut }", None, session).data == {"signOut": True}
    for _ in range(8):
        assert ask(stack.url, VIEWER, None, session).data == {"viewer": None}
    assert len(worker_pids_of(stack, start)) == 2


def test_nginx_refuses_a_strangers_upload_before_reading_its_body(stack: Stack) -> None:
    admin = bearer(token_for(stack.url, ADMIN, ADMIN_PASSWORD))
    before = image_ids(stack.url, admin, everyone=True)
    answer, seconds = announce_body(stack.port, f"127.0.0.1:{stack.port}", 1_000_000)
    assert answer.startswith("HTTP/1.1 401"), answer
    assert seconds < 2  # not after 1 MB that never came (nor client_body_timeout)
    assert '"code":"UNAUTHENTICATED"' in answer and 'www-authenticate: bearer realm="imagehost"' in answer.lower()
    assert "x-frame-options: deny" in answer.lower()  # Nginx's own answers carry the security headers too
    bad = upload(stack.url, drawn_png(), {"Authorization": "Bearer ih_revoked-or-made-up"})
    assert bad.status == 401 and bad.codes == ["INVALID_TOKEN"] and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert image_ids(stack.url, admin, everyone=True) == before
    stored = upload(stack.url, drawn_png(), admin).data["uploadImage"]  # with a token the body flows
    assert stored["__typename"] == "Image" and stored["owner"] == {"username": ADMIN}


def test_sign_in_failures_count_across_workers(stack: Stack) -> None:
    sign = "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { __typename " \
           "... on SignInFailed { code } } }"
    start = log_size(stack)
    for _ in range(5):
        failed = ask(stack.url, sign, {"u": ADMIN, "p": "a-guess"}, source="127.0.0.2").data["signIn"]
        assert failed["code"] == "BAD_CREDENTIALS"
    locked = ask(stack.url, sign, {"u": ADMIN, "p": ADMIN_PASSWORD}, source="127.0.0.2").data["signIn"]
    assert locked["code"] == "RATE_LIMITED"
    assert len(worker_pids_of(stack, start)) == 2  # the five failures were not all on one worker
    # (the admin is locked for 15 minutes now; nothing later in this module signs in as admin)


def test_a_session_from_another_sites_page_is_refused(stack: Stack, tmp_path: Path) -> None:
    answer, _ = post_graphql(stack.url, "{ __typename }")
    assert answer == {"data": {"__typename": "Query"}}
    cookie = {"Cookie": "imagehost_session=whatever-it-is", "Origin": "http://evil.example"}
    refused = ask(stack.url, DELETE, {"id": "x"}, cookie)
    assert refused.status == 403 and refused.codes == ["CROSS_ORIGIN_FORBIDDEN"]
    refused_upload = upload(stack.url, drawn_png(), cookie)
    assert refused_upload.status == 403 and refused_upload.codes == ["CROSS_ORIGIN_FORBIDDEN"]
