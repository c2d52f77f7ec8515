"""GET /healthz: 200 while storage can be written and read, 503 otherwise."""

from __future__ import annotations

import logging

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagehost.storage import ImageStore, StorageError

logger = logging.getLogger("imagehost.health")


def health_endpoint(images: ImageStore) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(request: Request) -> Response:
        try:
            await images.check()
            count = await images.count()
        except StorageError as error:
            logger.warning("health check failed: %s", error)
            return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
        return JSONResponse({"status": "ok", "images": count}, headers={"Cache-Control": "no-store"})

    return healthz
