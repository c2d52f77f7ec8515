"""What every resolver is handed for one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from imagehost.resolvers.limits import UploadLimits
from imagehost.resolvers.viewer import Viewer
from imagehost.storage import ImageStore, UserRecord


class SessionCookie(Protocol):
    """The answer's session cookie, which the HTTP edge writes (resolvers never see HTTP)."""

    def issue(self, secret: str, max_age_seconds: int) -> None: ...

    def clear(self) -> None: ...


@dataclass(slots=True)
class Context:
    images: ImageStore
    limits: UploadLimits
    base_url: str
    """Scheme and host that image URLs start with, without a trailing slash."""
    client: str
    """Who is asking, for the logs and rate limits (the client address as the proxy reported it)."""
    viewer: Viewer | None = None
    """The signed-in account; None when signed out."""
    session_cookie: SessionCookie | None = None
    users_seen: dict[str, UserRecord | None] = field(default_factory=dict)
    """Accounts looked up while answering (an owner shown on many images is read once)."""

    def image_url(self, key: str) -> str:
        return f"{self.base_url}/images/{key}"

    @property
    def who(self) -> str:
        """The viewer for log lines: a username, never a credential."""
        return self.viewer.user.username if self.viewer else "-"
