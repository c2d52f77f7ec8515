"""GET /healthz: 200 while storage can be written and read, 503 (with the reason) otherwise.

Unhealthy covers more than a failed probe write: free space below IMAGEHOST_MIN_FREE_BYTES
(uploads are refused then), and a catalog deleted, replaced or made read-only while running.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagehost.storage import ImageStore, StorageError, StorageFull

logger = logging.getLogger("imagehost.health")


def health_endpoint(images: ImageStore) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(request: Request) -> Response:
        try:
            await images.check()
            count = await images.count()
        except StorageError as error:
            reason = _reason(error)
            logger.warning("health check failed: %s", reason)
            return JSONResponse(
                {"status": "unavailable", "reason": reason, "code": error.code},
                status_code=503,
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse({"status": "ok", "images": count}, headers={"Cache-Control": "no-store"})

    return healthz


def _reason(error: StorageError) -> str:
    if isinstance(error, StorageFull) and error.floor_bytes is not None:
        return f"free space below IMAGEHOST_MIN_FREE_BYTES: {error}; uploads are refused until space is freed"
    return str(error)
