"""Password hashes: argon2id through argon2-cffi, off the event loop, two at a time.

argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes) take about
60 ms here: slow for someone guessing, unnoticed by a person signing in. Each hash holds 64 MiB,
so a process computes at most two at once; a flood of sign-ins queues instead of taking the
memory and both cores.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from functools import cache

import anyio
from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
CONCURRENT_HASHES = 2


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _hashing() -> anyio.CapacityLimiter:
    """The running event loop's limiter (a limiter belongs to one loop; tests run several)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(CONCURRENT_HASHES)
    return limiter


@cache
def _unknown_user_hash() -> str:
    """Verified for names with no account, so that they take as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))

MIN_LENGTH = 8
MAX_LENGTH = 1024


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"A password may have at most {MAX_LENGTH} characters"
    if password.strip().lower() == username.lower():
        return "The password may not be the username"
    return None


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(_hasher.hash, password, limiter=_hashing())


def verify_password_sync(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; `password_hash` None (no such account) costs the same time."""
    try:
        return _hasher.verify(password_hash or _unknown_user_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await to_thread.run_sync(verify_password_sync, password_hash, password, limiter=_hashing())
