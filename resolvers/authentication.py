"""From the credentials a request carries to its Viewer: a session cookie or an API token.

The HTTP edge calls this once per request, before the body is read. A token that is wrong,
revoked or belongs to a removed account is `InvalidToken` (the edge answers 401): a script
must never be served as signed out because its token stopped working. A session cookie that
matches nothing is only "signed out" (browsers keep stale cookies; the UI then asks to sign in).
"""

from __future__ import annotations

import time

from anyio import to_thread

from imagehost.resolvers.secret_hashes import TOKEN_PREFIX, secret_hash
from imagehost.resolvers.viewer import Viewer
from imagehost.storage import Accounts

SESSION_IDLE_SECONDS = 14 * 24 * 3600
"""A session unused this long has ended (the cookie's lifetime is SESSION_LIFETIME_SECONDS)."""
SESSION_LIFETIME_SECONDS = 90 * 24 * 3600
SESSION_TOUCH_SECONDS = 600
"""A session's last-seen time is written at most this often: reads only, for a busy browser."""
TOKEN_TOUCH_SECONDS = 60
"""An API token's lastUsedAt is written at most once a minute."""
MAX_SECRET_LENGTH = 200


class InvalidToken(Exception):
    """The request's bearer token is not a live token."""


def authenticate_sync(accounts: Accounts, bearer: str | None, session_secret: str | None) -> Viewer | None:
    if bearer is not None:
        if len(bearer) > MAX_SECRET_LENGTH or not bearer.startswith(TOKEN_PREFIX):
            raise InvalidToken
        holder = accounts.token_holder(secret_hash(bearer), touch_after=TOKEN_TOUCH_SECONDS)
        if holder is None:
            raise InvalidToken
        return Viewer(holder.user, token_id=holder.token_id)
    if session_secret is not None and len(session_secret) <= MAX_SECRET_LENGTH:
        hashed = secret_hash(session_secret)
        user = accounts.session_user(
            hashed,
            time.time(),
            idle_seconds=SESSION_IDLE_SECONDS,
            lifetime_seconds=SESSION_LIFETIME_SECONDS,
            touch_after=SESSION_TOUCH_SECONDS,
        )
        return Viewer(user, session_hash=hashed) if user is not None else None
    return None


async def authenticate(accounts: Accounts, bearer: str | None, session_secret: str | None) -> Viewer | None:
    """The request's Viewer, None when it carries no live credentials; raise InvalidToken."""
    if bearer is None and session_secret is None:
        return None  # no thread trip for an anonymous request
    return await to_thread.run_sync(authenticate_sync, accounts, bearer, session_secret)
