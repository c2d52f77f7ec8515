"""The secrets Imagehost hands out (session cookies, API tokens, delete tokens) and their hashes.

A secret is 256 random bits; the catalog keeps only its SHA-256, so a copy of the catalog
holds no credential. (A fast hash suffices here, unlike for passwords: nobody can guess 256 bits.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "ih_"
"""API token secrets start with this, so secret scanners and people can tell what one is."""


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, expected_hash: str | None) -> bool:
    """Whether `secret` hashes to `expected_hash`, compared in constant time."""
    return expected_hash is not None and hmac.compare_digest(secret_hash(secret), expected_hash)
