"""The composition root: `create_app(settings)` wires storage, schema and HTTP edges together.

Run it with `imagehost serve`, or as a worker with `uvicorn --factory imagehost.app:create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from imagehost.assets import asset_dir
from imagehost.http.access_log import AccessLog
from imagehost.http.body_limit import BodySizeLimit
from imagehost.http.graphql_view import ImagehostGraphQL
from imagehost.http.health import health_endpoint
from imagehost.http.image_files import ImageFiles
from imagehost.logging_setup import configure_logging
from imagehost.schema import build_schema
from imagehost.settings import Settings, load_settings
from imagehost.storage import ImageStore, open_image_store

logger = logging.getLogger("imagehost.app")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    configure_logging(settings.log_dir)
    images = open_image_store(settings.images_dir)
    graphql = ImagehostGraphQL(build_schema(), settings, images)
    return Starlette(
        routes=[
            Route("/graphql", graphql),
            Route("/healthz", health_endpoint(images), methods=["GET", "HEAD"]),
            Mount("/images", app=ImageFiles(directory=settings.images_dir), name="images"),
            Mount("/", app=StaticFiles(directory=asset_dir("frontend"), html=True), name="frontend"),
        ],
        middleware=[
            Middleware(AccessLog, trusted_proxies=settings.trusted_proxies),
            Middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes),
        ],
        lifespan=_lifespan(images, settings),
    )


def _lifespan(images: ImageStore, settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        logger.info(
            "started images_dir=%s max_upload_bytes=%d max_files=%d max_pixels=%d",
            settings.images_dir, settings.max_upload_bytes, settings.max_files, settings.max_pixels,
        )
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_sweep, images)
            yield
            tasks.cancel_scope.cancel()
        images.close()
        logger.info("stopped")

    return lifespan


async def _sweep(images: ImageStore) -> None:
    """Remove what an earlier crash left behind, off the request path."""
    removed = await anyio.to_thread.run_sync(images.sweep, abandon_on_cancel=True)
    if removed:
        logger.warning("sweep removed %d leftover files from an earlier crash", removed)
