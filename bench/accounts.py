"""The bench's account on the servers it starts: sign in as the first admin (made from
IMAGEHOST_ADMIN_PASSWORD at first start), make an API token, and send it as `Authorization:
Bearer` with every GraphQL request, as a script would. A server from before accounts (an A/B
baseline) has no `signIn`: it gets no token and is measured as it always was, signed out.

Also what signing in costs: the app's own argon2id hash and verify (imagehost.resolvers.passwords,
argon2-cffi's defaults), in this process, and `signIn` round trips through a running server.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from email.message import Message
from http.cookies import SimpleCookie
from typing import Any

from bench.processes import ADMIN_PASSWORD, BenchError

ADMIN_USERNAME = "admin"
SESSION_COOKIE = "imagehost_session"
TOKEN_LABEL = "bench"
SIGN_IN = ("mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { __typename "
           "... on SignInFailed { code message } } }")
CREATE_TOKEN = "mutation($l: String!) { createApiToken(label: $l) { secret } }"


def post_graphql(url: str, query: str, variables: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[dict[str, Any], Message]:
    """POST one query as JSON to `url`/graphql; the answer (4xx answers too) and its headers."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}"), error.headers
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise BenchError(f"POST {url}/graphql failed: {error}") from error


def sign_in(url: str) -> str | None:
    """The session cookie's value after signing in as the admin; None when the server has no
    accounts (its schema has no `signIn`)."""
    answer, headers = post_graphql(url, SIGN_IN, {"u": ADMIN_USERNAME, "p": ADMIN_PASSWORD}, {"Origin": url})
    outcome = (answer.get("data") or {}).get("signIn")
    if outcome is None:
        if any("signIn" in str(error.get("message", "")) for error in answer.get("errors") or []):
            return None  # "Cannot query field 'signIn' on type 'Mutation'": from before accounts
        raise BenchError(f"signIn at {url} answered {str(answer)[:300]}")
    if outcome.get("__typename") != "SignedIn":
        raise BenchError(f"signIn as {ADMIN_USERNAME} at {url} failed: {outcome} "
                         "(a catalog whose admin has another password?)")
    for value in headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie(value)
        if SESSION_COOKIE in cookie:
            return cookie[SESSION_COOKIE].value
    raise BenchError(f"signIn at {url} set no {SESSION_COOKIE} cookie")


def api_token(url: str) -> str | None:
    """A new API token of the admin (its secret), made as the UI makes one: signed in, same
    origin. None when the server has no accounts."""
    session = sign_in(url)
    if session is None:
        return None
    answer, _ = post_graphql(url, CREATE_TOKEN, {"l": TOKEN_LABEL},
                             {"Cookie": f"{SESSION_COOKIE}={session}", "Origin": url})
    secret = ((answer.get("data") or {}).get("createApiToken") or {}).get("secret")
    if not secret:
        raise BenchError(f"createApiToken at {url} answered {str(answer)[:300]}")
    return str(secret)


def hash_cost(repeat: int) -> dict[str, Any]:
    """CPU-bound ms of the app's password hash and verify (argon2-cffi's defaults), median of
    `repeat` each, in this process after one warm-up; and the parameters the hash says it used."""
    from imagehost.resolvers.passwords import hash_password_sync, verify_password_sync

    password = ADMIN_PASSWORD
    stored = hash_password_sync(password)
    verify_password_sync(stored, password)
    hashed, verified = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        stored = hash_password_sync(password)
        hashed.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        if not verify_password_sync(stored, password):
            raise BenchError("the app's verify_password_sync refused the password it just hashed")
        verified.append((time.perf_counter() - started) * 1000)
    # "$argon2id$v=19$m=65536,t=3,p=4$salt$hash"
    variant, _, parameters = stored.split("$")[1:4]
    return {"hash_ms": round(statistics.median(hashed), 1), "verify_ms": round(statistics.median(verified), 1),
            "algorithm": variant, "parameters": parameters, "repeat": repeat,
            "runs": {"hash_ms": [round(v, 1) for v in hashed], "verify_ms": [round(v, 1) for v in verified]}}


def sign_in_round_trips(url: str, repeat: int) -> dict[str, Any]:
    """Wall ms of `repeat` successful `signIn`s through the server, one after the other (a
    success clears the account's failure count, so these never reach the rate limit)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        if sign_in(url) is None:
            raise BenchError(f"{url} has no accounts: no signIn to time")
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "requests": repeat,
            "runs": [round(v, 1) for v in times]}
