"""What every resolver is handed for one request."""

from __future__ import annotations

from dataclasses import dataclass

from imagehost.resolvers.limits import UploadLimits
from imagehost.storage import ImageStore


@dataclass(frozen=True, slots=True)
class Context:
    images: ImageStore
    limits: UploadLimits
    base_url: str
    """Scheme and host that image URLs start with, without a trailing slash."""
    client: str
    """Who is asking, for the logs (the client address as the proxy reported it)."""

    def image_url(self, key: str) -> str:
        return f"{self.base_url}/images/{key}"
