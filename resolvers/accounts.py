"""Signing in and out, API tokens, passwords and account management.

Who may call what is decided in the schema (permission classes); what is checked here is what
depends on the data: rate limits, passwords, an admin removing themselves.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from dataclasses import dataclass

from anyio import to_thread

from imagehost.resolvers.authentication import SESSION_LIFETIME_SECONDS
from imagehost.resolvers.context import Context
from imagehost.resolvers.passwords import hash_password, password_problem, verify_password
from imagehost.resolvers.secret_hashes import TOKEN_PREFIX, new_secret, secret_hash
from imagehost.resolvers.viewer import Viewer
from imagehost.storage import ApiTokenRecord, UserRecord, UsernameTaken

logger = logging.getLogger("imagehost.accounts")

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
USERNAME_RULE = "1 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
SIGN_IN_LIMIT = 5
SIGN_IN_WINDOW_SECONDS = 15 * 60
MAX_LABEL_LENGTH = 100


class SignInProblemCode(enum.Enum):
    BAD_CREDENTIALS = "BAD_CREDENTIALS"
    RATE_LIMITED = "RATE_LIMITED"


class AccountProblemCode(enum.Enum):
    USERNAME_TAKEN = "USERNAME_TAKEN"
    INVALID_USERNAME = "INVALID_USERNAME"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    BAD_CREDENTIALS = "BAD_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class SignInProblem:
    code: SignInProblemCode
    message: str
    retry_after_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class AccountProblem:
    code: AccountProblemCode
    message: str


class NotAllowed(Exception):
    """The viewer may not do this. graphql-core copies `extensions` into the GraphQL error, so
    the client sees the code (FORBIDDEN, or UNAUTHENTICATED when nobody is signed in)."""

    def __init__(self, message: str, code: str = "FORBIDDEN") -> None:
        super().__init__(message)
        self.extensions = {"code": code}


def normalise_username(username: str) -> str:
    return username.strip().lower()


def username_problem(username: str) -> str | None:
    return None if USERNAME.fullmatch(username) else f"A username is {USERNAME_RULE}"


# -- signing in ------------------------------------------------------------------------------


async def sign_in(context: Context, username: str, password: str) -> UserRecord | SignInProblem:
    """Check the password (at most SIGN_IN_LIMIT tries per account and per address in the
    window, counted before the check so parallel guesses cannot pass it), then start a session."""
    accounts = context.images.accounts
    name = normalise_username(username)[:64]
    now = time.time()
    counted = await to_thread.run_sync(_count_sign_in, context, name, now)
    if isinstance(counted, SignInProblem):
        logger.info("sign-in refused client=%s username=%r reason=rate-limited", context.client, name)
        return counted
    credentials = await to_thread.run_sync(accounts.credentials, name) if username_problem(name) is None else None
    if not await verify_password(credentials.password_hash if credentials else None, password[:1024]):
        logger.info("sign-in refused client=%s username=%r reason=bad-credentials", context.client, name)
        return SignInProblem(SignInProblemCode.BAD_CREDENTIALS, "Wrong username or password")
    assert credentials is not None
    await to_thread.run_sync(_forget_sign_in, context, name, counted)
    await _start_session(context, credentials.user)
    logger.info("sign-in done client=%s username=%r", context.client, name)
    return credentials.user


def _count_sign_in(context: Context, name: str, now: float) -> tuple[int, int] | SignInProblem:
    accounts = context.images.accounts
    window = SIGN_IN_WINDOW_SECONDS
    by_account = accounts.count_attempt("sign-in:account", name, now, limit=SIGN_IN_LIMIT, window=window)
    if by_account is None:
        return _too_many(context, "sign-in:account", name, now)
    by_address = accounts.count_attempt("sign-in:address", context.client, now, limit=SIGN_IN_LIMIT, window=window)
    if by_address is None:
        accounts.forget_attempt(by_account)
        return _too_many(context, "sign-in:address", context.client, now)
    return by_account, by_address


def _forget_sign_in(context: Context, name: str, counted: tuple[int, int]) -> None:
    """A success counts for nothing: earlier failures of the account are cleared too (those of
    the address stay: they may have been guesses at other accounts)."""
    context.images.accounts.clear_attempts("sign-in:account", name)
    context.images.accounts.forget_attempt(counted[1])


def _too_many(context: Context, kind: str, subject: str, now: float) -> SignInProblem:
    window = SIGN_IN_WINDOW_SECONDS
    made = context.images.accounts.attempts_since(kind, subject, now - window)
    # Another attempt may pass once enough of these have left the window.
    freed_at = made[len(made) - SIGN_IN_LIMIT] + window if len(made) >= SIGN_IN_LIMIT else now
    retry_after = max(1, int(freed_at - now + 0.999))
    who = "this account" if kind.endswith("account") else "this address"
    return SignInProblem(
        SignInProblemCode.RATE_LIMITED,
        f"Too many failed sign-ins for {who}; try again in {_minutes(retry_after)}",
        retry_after,
    )


def _minutes(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 90 else f"{(seconds + 59) // 60} minutes"


async def _start_session(context: Context, user: UserRecord) -> None:
    secret = new_secret()
    await to_thread.run_sync(context.images.accounts.create_session, user.id, secret_hash(secret), time.time())
    if context.session_cookie is not None:
        context.session_cookie.issue(secret, SESSION_LIFETIME_SECONDS)


async def sign_out(context: Context) -> bool:
    viewer = context.viewer
    if context.session_cookie is not None:
        context.session_cookie.clear()
    if viewer is None or viewer.session_hash is None:
        return False
    ended = await to_thread.run_sync(context.images.accounts.end_session, viewer.session_hash)
    logger.info("sign-out client=%s username=%r", context.client, viewer.user.username)
    return ended


# -- API tokens ------------------------------------------------------------------------------


async def create_api_token(context: Context, label: str) -> tuple[ApiTokenRecord, str]:
    """A new token of the viewer and its secret (the only time the secret exists outside the client)."""
    viewer = _signed_in(context)
    label = token_label(label, "token")
    secret = new_secret(TOKEN_PREFIX)
    token = await to_thread.run_sync(context.images.accounts.create_token, viewer.id, label, secret_hash(secret))
    logger.info("token created client=%s username=%r token=%s label=%r", context.client, viewer.user.username, token.id, label)
    return token, secret


def token_label(label: str, default: str) -> str:
    """A label as shown in token lists: one line, at most MAX_LABEL_LENGTH characters."""
    return " ".join(label.split())[:MAX_LABEL_LENGTH] or default


async def api_tokens(context: Context) -> list[ApiTokenRecord]:
    return await to_thread.run_sync(context.images.accounts.tokens, _signed_in(context).id)


async def revoke_api_token(context: Context, token_id: str) -> bool:
    viewer = _signed_in(context)
    revoked = await to_thread.run_sync(context.images.accounts.revoke_token, token_id, viewer.id)
    logger.info("token revoke client=%s username=%r token=%s revoked=%s", context.client, viewer.user.username, token_id, revoked)
    return revoked


# -- passwords and accounts ------------------------------------------------------------------


async def change_password(context: Context, current: str, new: str) -> UserRecord | AccountProblem:
    """Check the current password (counted like a sign-in), set the new one, end every session,
    and start a fresh one for this browser."""
    viewer = _signed_in(context)
    accounts = context.images.accounts
    counted = await to_thread.run_sync(_count_sign_in, context, viewer.user.username, time.time())
    if isinstance(counted, SignInProblem):
        return AccountProblem(AccountProblemCode.BAD_CREDENTIALS, counted.message)
    stored = await to_thread.run_sync(accounts.password_hash, viewer.id)
    if not await verify_password(stored, current[:1024]):
        return AccountProblem(AccountProblemCode.BAD_CREDENTIALS, "The current password is wrong")
    await to_thread.run_sync(_forget_sign_in, context, viewer.user.username, counted)
    problem = password_problem(new, viewer.user.username)
    if problem:
        return AccountProblem(AccountProblemCode.WEAK_PASSWORD, problem)
    await to_thread.run_sync(accounts.set_password, viewer.id, await hash_password(new))
    logger.info("password changed client=%s username=%r", context.client, viewer.user.username)
    if viewer.session_hash is not None:
        await _start_session(context, viewer.user)
    return await _reread(context, viewer.id)


async def create_user(context: Context, username: str, password: str, admin: bool) -> UserRecord | AccountProblem:
    if not _signed_in(context).is_admin:
        return AccountProblem(AccountProblemCode.FORBIDDEN, "Only admins create accounts")
    name = normalise_username(username)
    problem = username_problem(name)
    if problem:
        return AccountProblem(AccountProblemCode.INVALID_USERNAME, problem)
    problem = password_problem(password, name)
    if problem:
        return AccountProblem(AccountProblemCode.WEAK_PASSWORD, problem)
    try:
        user = await to_thread.run_sync(_create, context, name, await hash_password(password), admin)
    except UsernameTaken as error:
        return AccountProblem(AccountProblemCode.USERNAME_TAKEN, str(error).capitalize())
    logger.info("account created client=%s by=%r username=%r admin=%s", context.client, context.who, name, admin)
    return user


def _create(context: Context, name: str, password_hash: str, admin: bool) -> UserRecord:
    user = context.images.accounts.create_user(name, password_hash, is_admin=admin)
    assert user is not None
    return user


async def delete_user(context: Context, user_id: str) -> bool:
    """Remove an account and its images (admins; not their own account)."""
    viewer = _admin(context)
    if user_id == viewer.id:
        raise NotAllowed("You cannot remove your own account")
    user = await to_thread.run_sync(context.images.accounts.user, user_id)
    if user is None:
        return False
    deleted = await to_thread.run_sync(context.images.remove_account, user_id)
    logger.info("account removed client=%s by=%r username=%r images=%d", context.client, viewer.user.username, user.username, deleted)
    return True


async def set_quota(context: Context, user_id: str, quota_bytes: int | None) -> UserRecord | AccountProblem:
    if not _signed_in(context).is_admin:
        return AccountProblem(AccountProblemCode.FORBIDDEN, "Only admins set quotas")
    if quota_bytes is not None and quota_bytes < 0:
        return AccountProblem(AccountProblemCode.FORBIDDEN, "A quota is 0 bytes or more, or null for no limit")
    if not await to_thread.run_sync(context.images.accounts.set_quota, user_id, quota_bytes):
        return AccountProblem(AccountProblemCode.FORBIDDEN, f"There is no account with id {user_id}")
    logger.info("quota set client=%s by=%r user=%s quota_bytes=%s", context.client, context.who, user_id, quota_bytes)
    return await _reread(context, user_id)


async def reset_password(context: Context, user_id: str, new: str) -> UserRecord | AccountProblem:
    if not _signed_in(context).is_admin:
        return AccountProblem(AccountProblemCode.FORBIDDEN, "Only admins reset passwords")
    user = await to_thread.run_sync(context.images.accounts.user, user_id)
    if user is None:
        return AccountProblem(AccountProblemCode.FORBIDDEN, f"There is no account with id {user_id}")
    problem = password_problem(new, user.username)
    if problem:
        return AccountProblem(AccountProblemCode.WEAK_PASSWORD, problem)
    await to_thread.run_sync(context.images.accounts.set_password, user_id, await hash_password(new))
    logger.info("password reset client=%s by=%r username=%r", context.client, context.who, user.username)
    return await _reread(context, user_id)


async def list_users(context: Context) -> list[UserRecord]:
    _admin(context)
    return await to_thread.run_sync(context.images.accounts.users)


async def viewer_user(context: Context) -> UserRecord | None:
    """The viewer's account as it is now (image count and bytes change with every upload)."""
    return await _reread(context, context.viewer.id) if context.viewer else None


async def user_by_id(context: Context, user_id: str) -> UserRecord | None:
    """An account shown beside images (owner), read once per request."""
    if user_id not in context.users_seen:
        context.users_seen[user_id] = await to_thread.run_sync(context.images.accounts.user, user_id)
    return context.users_seen[user_id]


async def _reread(context: Context, user_id: str) -> UserRecord:
    user = await to_thread.run_sync(context.images.accounts.user, user_id)
    if user is None:
        raise NotAllowed("The account was removed")
    return user


def _signed_in(context: Context) -> Viewer:
    if context.viewer is None:
        raise NotAllowed("Sign in first", "UNAUTHENTICATED")
    return context.viewer


def _admin(context: Context) -> Viewer:
    viewer = _signed_in(context)
    if not viewer.is_admin:
        raise NotAllowed("Only admins may do this")
    return viewer
