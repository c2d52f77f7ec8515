"""Who is asking: the signed-in account of a request, and how it proved who it is."""

from __future__ import annotations

from dataclasses import dataclass

from imagehost.storage import UserRecord


@dataclass(frozen=True, slots=True)
class Viewer:
    user: UserRecord
    session_hash: str | None = None
    """Set when the request carried a session cookie (signOut ends that session)."""
    token_id: str | None = None
    """Set when the request carried an API token."""

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin

    @property
    def id(self) -> str:
        return self.user.id
