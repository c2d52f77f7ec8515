"""What the catalog stores about accounts, sessions and API tokens, independent of any backend.

Secrets never appear here: sessions, tokens and delete tokens are kept as SHA-256 hashes of
their secrets, passwords as argon2id hashes (made in `resolvers.passwords`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    is_admin: bool
    created_at: datetime
    quota_bytes: int | None
    """None: no limit."""
    image_count: int
    stored_bytes: int
    """Bytes of every rendition of the account's images."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An account with its password hash, for signing in (never handed to the API)."""

    user: UserRecord
    password_hash: str


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: str
    user_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Whose token a secret is, and which token."""

    user: UserRecord
    token_id: str
