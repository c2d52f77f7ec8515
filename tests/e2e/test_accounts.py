"""Who may do what, through a real `imagehost serve` and through the stack (Nginx, two workers):
signed out, two members, an admin, tokens (live and revoked), sessions, and the account
management around them."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.accounts_support import (
    DELETE,
    LIST,
    Answer,
    announce_body,
    ask,
    bearer,
    browser_session,
    image_ids,
    new_token,
    upload,
)
from tests.imagedata import drawn_png
from tests.stack.test_stack import running_stack
from tests.support import ADMIN, ADMIN_PASSWORD, RunningServer, create_user, run_serve, session_headers, sign_in, token_for

ALICE_PASSWORD = "alice-password-1"
BOB_PASSWORD = "bob-password-12"


@dataclass
class World:
    server: RunningServer
    admin: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    alice_id: str
    bob_id: str
    alice_image: str
    bob_image: str
    admin_image: str
    via_stack: bool = False
    secrets: list[str] = field(default_factory=list)
    """Every password, token and session secret the tests used (none may reach a log)."""

    @property
    def url(self) -> str:
        return self.server.url


def stored_image(url: str, headers: dict[str, str], color: tuple[int, int, int]) -> str:
    answer = upload(url, drawn_png(color=color), headers)
    assert answer.status == 200 and answer.data["uploadImage"]["__typename"] == "Image", answer
    image = answer.data["uploadImage"]
    assert image["deleteToken"] is None  # only anonymous uploads get one
    return str(image["id"])


@contextmanager
def running(shape: str, base: Path) -> Iterator[RunningServer]:
    """`imagehost serve`, or the stack (Nginx and two workers) seen the same way."""
    if shape == "serve":
        with run_serve(base) as server:
            yield server
        return
    with running_stack(base) as stack:
        yield RunningServer(stack.url, stack.images_dir, stack.log_dir, stack.process,
                            token_for(stack.url, ADMIN, ADMIN_PASSWORD))


@pytest.fixture(scope="module", params=["serve", "stack"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running(request.param, tmp_path_factory.mktemp(f"accounts-{request.param}")) as server:
        alice_id = create_user(server, "alice", ALICE_PASSWORD)
        bob_id = create_user(server, "bob", BOB_PASSWORD)
        alice = bearer(token_for(server.url, "alice", ALICE_PASSWORD))
        bob = bearer(token_for(server.url, "bob", BOB_PASSWORD))
        yield World(
            server, server.auth, alice, bob, alice_id, bob_id,
            alice_image=stored_image(server.url, alice, (200, 0, 0)),
            bob_image=stored_image(server.url, bob, (0, 200, 0)),
            admin_image=stored_image(server.url, server.auth, (0, 0, 200)),
            via_stack=request.param == "stack",
            secrets=[ADMIN_PASSWORD, ALICE_PASSWORD, BOB_PASSWORD, server.token,
                     alice["Authorization"].split()[1], bob["Authorization"].split()[1]],
        )


def error_code(answer: Answer) -> str | None:
    assert answer.status == 200, answer
    return answer.codes[0] if answer.codes else None


def test_signed_out_reads_nothing_and_changes_nothing(world: World) -> None:
    url = world.url
    assert error_code(ask(url, LIST, {"all": False})) == "UNAUTHENTICATED"
    assert error_code(ask(url, LIST, {"all": True})) == "UNAUTHENTICATED"
    assert ask(url, "query($id: ID!) { image(id: $id) { id } }", {"id": world.alice_image}).data == {"image": None}
    assert ask(url, "{ viewer { id } }").data == {"viewer": None}
    for query in ("{ users { id } }", "{ apiTokens { id } }", 'mutation { createApiToken(label: "x") { secret } }',
                  'mutation { changePassword(currentPassword: "a", newPassword: "bbbbbbbbbb") { __typename } }',
                  'mutation { createUser(username: "eve", password: "eve-password") { __typename } }',
                  f'mutation {{ deleteUser(id: "{world.alice_id}") }}'):
        assert error_code(ask(url, query)) == "UNAUTHENTICATED", query
    assert ask(url, "mutation { signOut }").data == {"signOut": False}
    deleted = ask(url, DELETE, {"id": world.alice_image})
    assert deleted.data["deleteImage"]["__typename"] == "ImageNotFound"
    refused = upload(url, drawn_png())
    assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert image_ids(url, world.admin, everyone=True) == {world.alice_image, world.bob_image, world.admin_image}


def test_members_see_and_delete_only_their_own(world: World) -> None:
    url = world.url
    assert image_ids(url, world.alice) == {world.alice_image}
    assert image_ids(url, world.bob) == {world.bob_image}
    listed = ask(url, LIST, {"all": False}, world.alice).data["images"]
    assert listed["totalCount"] == 1 and listed["edges"][0]["node"]["owner"]["username"] == "alice"
    see = "query($id: ID!) { image(id: $id) { id } }"
    assert ask(url, see, {"id": world.bob_image}, world.alice).data == {"image": None}
    assert ask(url, see, {"id": world.alice_image}, world.alice).data == {"image": {"id": world.alice_image}}
    assert error_code(ask(url, LIST, {"all": True}, world.alice)) == "FORBIDDEN"
    assert error_code(ask(url, "{ users { id } }", None, world.alice)) == "FORBIDDEN"
    assert error_code(ask(url, f'mutation {{ deleteUser(id: "{world.bob_id}") }}', None, world.alice)) == "FORBIDDEN"
    created = ask(url, 'mutation { createUser(username: "mallory", password: "mallory-pass") '
                       '{ __typename ... on AccountError { code } } }', None, world.alice)
    assert created.data["createUser"] == {"__typename": "AccountError", "code": "FORBIDDEN"}
    # Someone else's image does not exist for a member: same answer as for an unknown id.
    assert ask(url, DELETE, {"id": world.bob_image}, world.alice).data["deleteImage"]["__typename"] == "ImageNotFound"
    assert world.bob_image in image_ids(url, world.bob)
    assert ask(url, "{ viewer { username isAdmin imageCount } }", None, world.alice).data == {
        "viewer": {"username": "alice", "isAdmin": False, "imageCount": 1}
    }


def test_an_admin_sees_everyone_and_lists_accounts(world: World) -> None:
    url = world.url
    assert image_ids(url, world.admin) == {world.admin_image}  # own images by default
    everyone = ask(url, LIST, {"all": True}, world.admin).data["images"]
    owners = {edge["node"]["id"]: edge["node"]["owner"]["username"] for edge in everyone["edges"]}
    assert owners == {world.alice_image: "alice", world.bob_image: "bob", world.admin_image: "admin"}
    assert everyone["totalCount"] == 3
    assert ask(url, "query($id: ID!) { image(id: $id) { id } }", {"id": world.bob_image}, world.admin).data["image"]
    users = ask(url, "{ users { username isAdmin imageCount storedBytes quotaBytes } }", None, world.admin).data["users"]
    by_name = {user["username"]: user for user in users}
    assert {"admin", "alice", "bob"} <= set(by_name)
    assert by_name["admin"]["isAdmin"] and not by_name["alice"]["isAdmin"]
    assert by_name["alice"]["imageCount"] == 1 and by_name["alice"]["storedBytes"] > len(drawn_png())  # + thumbnail
    assert by_name["alice"]["quotaBytes"] is None


def test_tokens_are_per_account_and_revoking_one_is_immediate(world: World) -> None:
    url = world.url
    token_id, secret = new_token(url, world.alice, "laptop")
    world.secrets.append(secret)
    laptop = bearer(secret)
    assert ask(url, "{ viewer { username } }", None, laptop).data == {"viewer": {"username": "alice"}}
    alice_tokens = ask(url, "{ apiTokens { id label lastUsedAt } }", None, world.alice).data["apiTokens"]
    assert {token["label"] for token in alice_tokens} == {"tests", "laptop"}
    assert next(token for token in alice_tokens if token["id"] == token_id)["lastUsedAt"] is not None
    assert token_id not in {token["id"] for token in ask(url, "{ apiTokens { id } }", None, world.bob).data["apiTokens"]}
    revoke = "mutation($id: ID!) { revokeApiToken(id: $id) }"
    assert ask(url, revoke, {"id": token_id}, world.bob).data == {"revokeApiToken": False}  # not bob's
    assert ask(url, "{ viewer { username } }", None, laptop).status == 200
    assert ask(url, revoke, {"id": token_id}, world.alice).data == {"revokeApiToken": True}
    after = ask(url, "{ viewer { username } }", None, laptop)
    assert after.status == 401 and after.codes == ["INVALID_TOKEN"]
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    refused = upload(url, drawn_png(), laptop)
    assert refused.status == 401 and refused.codes == ["INVALID_TOKEN"]


@pytest.mark.parametrize("authorization", ["Bearer ih_not-a-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer x" * 100])
def test_a_bad_token_is_a_401_never_signed_out(world: World, authorization: str) -> None:
    answer = ask(world.url, "{ viewer { id } uploadLimits { maxFiles } }", None, {"Authorization": authorization})
    assert answer.status == 401 and answer.codes == ["INVALID_TOKEN"] and "data" not in answer.body
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_strangers_upload_is_refused_before_its_body_is_read(world: World) -> None:
    """Headers announcing 1 MB and not one byte of it: the 401 comes at once, nothing is spooled."""
    port = int(world.url.rsplit(":", 1)[1])
    work = world.server.images_dir / ".imagehost" / "tmp"
    before = sorted(path.name for path in work.iterdir()) if work.exists() else []
    answer, seconds = announce_body(port, "127.0.0.1", 1_000_000)
    assert answer.startswith("HTTP/1.1 401"), answer
    assert seconds < 2
    assert '"UNAUTHENTICATED"' in answer
    assert (sorted(path.name for path in work.iterdir()) if work.exists() else []) == before
    assert ask(world.url, "{ __typename }", None, world.bob).status == 200  # others are served meanwhile


def test_a_session_cookie_is_httponly_lax_and_ends_with_sign_out(world: World) -> None:
    url = world.url
    signed_in = ask(url, 'mutation { signIn(username: "bob", password: "bob-password-12") { __typename '
                         '... on SignedIn { user { username } } } }')
    assert signed_in.data["signIn"] == {"__typename": "SignedIn", "user": {"username": "bob"}}
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("imagehost_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie
    session = cookie.split(";")[0].split("=", 1)[1]
    world.secrets.append(session)
    headers = session_headers(url, session)
    assert ask(url, "{ viewer { username } }", None, headers).data == {"viewer": {"username": "bob"}}
    assert image_ids(url, headers) == {world.bob_image}
    # Over https (as a trusted proxy reports it) the cookie is Secure; through Nginx, the client's
    # own X-Forwarded-Proto is replaced with the scheme it really used (http here).
    secure = ask(url, 'mutation { signIn(username: "bob", password: "bob-password-12") { __typename } }', None,
                 {"X-Forwarded-Proto": "https"})
    assert ("Secure" in secure.headers["set-cookie"]) is not world.via_stack
    assert ask(url, "mutation { signOut }", None, headers).data == {"signOut": True}
    assert ask(url, "{ viewer { username } }", None, headers).data == {"viewer": None}
    assert error_code(ask(url, LIST, {"all": False}, headers)) == "UNAUTHENTICATED"


def test_a_session_is_used_only_from_its_own_page(world: World) -> None:
    """The cookie on a POST from another origin, or with no sign of where it came from, is refused
    (CSRF); the same cookie from the UI's own origin works."""
    url = world.url
    session = sign_in(url, "bob", BOB_PASSWORD)
    world.secrets.append(session)
    cookie = {"Cookie": f"imagehost_session={session}"}
    foreign = ask(url, DELETE, {"id": world.bob_image}, {**cookie, "Origin": "http://evil.example"})
    assert foreign.status == 403 and foreign.codes == ["CROSS_ORIGIN_FORBIDDEN"]
    sibling = ask(url, DELETE, {"id": world.bob_image}, {**cookie, "Sec-Fetch-Site": "same-site"})
    assert sibling.status == 403
    bare = ask(url, DELETE, {"id": world.bob_image}, cookie)
    assert bare.status == 403 and "API token" in bare.body["errors"][0]["message"]
    assert world.bob_image in image_ids(url, world.bob)
    own_page = ask(url, "{ viewer { username } }", None, {**cookie, "Sec-Fetch-Site": "same-origin"})
    assert own_page.data == {"viewer": {"username": "bob"}}


def test_changing_a_password_ends_the_other_sessions(world: World) -> None:
    url = world.url
    create_user(world.server, "carol", "carol-password")
    here = browser_session(url, "carol", "carol-password")
    elsewhere = browser_session(url, "carol", "carol-password")
    world.secrets += ["carol-password", "carol-new-password", here["Cookie"], elsewhere["Cookie"]]
    change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) " \
             "{ __typename ... on AccountError { code } } }"
    assert ask(url, change, {"c": "wrong-password", "n": "carol-new-password"}, here).data["changePassword"] == {
        "__typename": "AccountError", "code": "BAD_CREDENTIALS"}
    assert ask(url, change, {"c": "carol-password", "n": "short"}, here).data["changePassword"]["code"] == "WEAK_PASSWORD"
    changed = ask(url, change, {"c": "carol-password", "n": "carol-new-password"}, here)
    assert changed.data["changePassword"]["__typename"] == "User"
    fresh = changed.headers["set-cookie"].split(";")[0].split("=", 1)[1]  # this browser stays signed in
    for old in (here, elsewhere):
        assert ask(url, "{ viewer { username } }", None, old).data == {"viewer": None}
    assert ask(url, "{ viewer { username } }", None, session_headers(url, fresh)).data == {"viewer": {"username": "carol"}}
    sign_in(url, "carol", "carol-new-password")


def test_admins_manage_accounts_quotas_and_passwords(world: World) -> None:
    url = world.url
    create = "mutation($u: String!, $p: String!) { createUser(username: $u, password: $p) " \
             "{ __typename ... on User { id username } ... on AccountError { code message } } }"
    made = ask(url, create, {"u": "  Dave ", "p": "dave-password"}, world.admin).data["createUser"]
    assert made["__typename"] == "User" and made["username"] == "dave"  # names are kept lower-case
    dave_id = made["id"]
    for username, password, code in (("dave", "dave-password2", "USERNAME_TAKEN"), ("no spaces!", "dave-password2",
                                     "INVALID_USERNAME"), ("erin", "short", "WEAK_PASSWORD"), ("frank", "frank", "WEAK_PASSWORD")):
        assert ask(url, create, {"u": username, "p": password}, world.admin).data["createUser"]["code"] == code
    dave = bearer(token_for(url, "dave", "dave-password"))
    world.secrets += ["dave-password", dave["Authorization"].split()[1]]

    quota = "mutation($id: ID!, $q: Int) { setUserQuota(id: $id, quotaMebibytes: $q) { __typename ... on User { quotaBytes } } }"
    assert ask(url, quota, {"id": dave_id, "q": 0}, world.admin).data["setUserQuota"] == {"__typename": "User", "quotaBytes": 0}
    over = upload(url, drawn_png(), dave).data["uploadImage"]
    assert over["__typename"] == "UploadError" and over["code"] == "QUOTA_EXCEEDED", over
    assert image_ids(url, dave) == set()
    assert ask(url, quota, {"id": dave_id, "q": None}, world.admin).data["setUserQuota"]["quotaBytes"] is None
    dave_image = stored_image(url, dave, (9, 9, 9))
    dave_url = ask(url, "query($id: ID!) { image(id: $id) { url } }", {"id": dave_image}, dave).data["image"]["url"]

    session = browser_session(url, "dave", "dave-password")
    reset = "mutation($id: ID!, $p: String!) { resetPassword(id: $id, newPassword: $p) { __typename } }"
    assert ask(url, reset, {"id": dave_id, "p": "dave-reset-pass"}, world.alice).data["resetPassword"] is not None
    assert ask(url, "{ viewer { username } }", None, session).data == {"viewer": {"username": "dave"}}  # alice may not
    assert ask(url, reset, {"id": dave_id, "p": "dave-reset-pass"}, world.admin).data["resetPassword"]["__typename"] == "User"
    assert ask(url, "{ viewer { username } }", None, session).data == {"viewer": None}

    admin_id = ask(url, "{ viewer { id } }", None, world.admin).data["viewer"]["id"]
    assert error_code(ask(url, f'mutation {{ deleteUser(id: "{admin_id}") }}', None, world.admin)) == "FORBIDDEN"
    assert ask(url, f'mutation {{ deleteUser(id: "{dave_id}") }}', None, world.admin).data == {"deleteUser": True}
    assert ask(url, "{ viewer { id } }", None, dave).status == 401  # its tokens went with it
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(dave_url, timeout=10)
    gone.value.close()
    assert gone.value.code == 404  # and its images, bytes included
    assert dave_image not in image_ids(url, world.admin, everyone=True)


def test_sign_in_is_rate_limited_per_account_and_per_address(world: World) -> None:
    url = world.url
    create_user(world.server, "erin", "erin-password")
    sign = "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { __typename " \
           "... on SignInFailed { code retryAfterSeconds } } }"
    for _ in range(5):
        failed = ask(url, sign, {"u": "erin", "p": "guess"}, source="127.0.0.2").data["signIn"]
        assert failed == {"__typename": "SignInFailed", "code": "BAD_CREDENTIALS", "retryAfterSeconds": None}
    for source in ("127.0.0.2", "127.0.0.4"):  # the account is locked from every address, right password or not
        locked = ask(url, sign, {"u": "erin", "p": "erin-password"}, source=source).data["signIn"]
        assert locked["code"] == "RATE_LIMITED" and 800 < locked["retryAfterSeconds"] <= 900
    assert ask(url, sign, {"u": "bob", "p": BOB_PASSWORD}).data["signIn"]["__typename"] == "SignedIn"  # others are not

    for name in ("nobody1", "nobody2", "nobody3", "nobody4", "nobody5"):  # one address guessing at many accounts
        assert ask(url, sign, {"u": name, "p": "guess"}, source="127.0.0.3").data["signIn"]["code"] == "BAD_CREDENTIALS"
    by_address = ask(url, sign, {"u": "bob", "p": BOB_PASSWORD}, source="127.0.0.3").data["signIn"]
    assert by_address["code"] == "RATE_LIMITED"
    assert ask(url, sign, {"u": "bob", "p": BOB_PASSWORD}, source="127.0.0.5").data["signIn"]["__typename"] == "SignedIn"


def test_no_password_token_or_session_reaches_the_log(world: World) -> None:
    log = "".join(path.read_text() for path in Path(world.server.log_dir).glob("*.log"))
    assert "sign-in done" in log and "upload stored" in log  # the log does speak of them
    for secret in world.secrets:
        value = secret.split("=", 1)[-1]
        assert value not in log, f"a secret of the tests is in the log: {value[:6]}…"
