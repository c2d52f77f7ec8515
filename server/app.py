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
from imagehost.check_command import catalog_refusal
from imagehost.first_admin import ensure_first_admin
from imagehost.http.access_log import AccessLog
from imagehost.http.allowed_hosts import HostAllowList
from imagehost.http.body_limit import BodySizeLimit
from imagehost.http.graphql_view import ImagehostGraphQL
from imagehost.http.health import health_endpoint
from imagehost.http.image_files import ImageFiles
from imagehost.http.read_timeouts import BodyReadTimeout
from imagehost.http.security_headers import SecurityHeaders
from imagehost.http.upload_gate import UPLOAD_GATE_PATH, upload_gate
from imagehost.logging_setup import configure_logging
from imagehost.schema import build_schema
from imagehost.settings import Settings, load_settings
from imagehost.storage import CatalogMissing, CatalogReplaced, ImageStore, StorageError, open_image_store

logger = logging.getLogger("imagehost.app")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    configure_logging(settings.log_dir)
    images = _open_store(settings)
    ensure_first_admin(images, settings)
    graphql = ImagehostGraphQL(build_schema(), settings, images)
    return Starlette(
        routes=[
            Route("/graphql", graphql),
            Route("/healthz", health_endpoint(images), methods=["GET", "HEAD"]),
            Route(UPLOAD_GATE_PATH, upload_gate(images, settings), methods=["GET", "POST"]),
            Mount("/images", app=ImageFiles(directory=settings.images_dir), name="images"),
            Mount("/", app=StaticFiles(directory=asset_dir("frontend"), html=True), name="frontend"),
        ],
        middleware=[
            Middleware(SecurityHeaders, public_url=settings.public_url),  # on every answer, refusals too
            Middleware(AccessLog, trusted_proxies=settings.trusted_proxies),
            Middleware(BodyReadTimeout),  # a body sent a byte a second is a 408, logged above
            # Nginx's upload gate answers only 2xx/401/403 (anything else is Nginx's 500); it grants
            # nothing but reading the body, and the upload itself is judged by host right after.
            Middleware(HostAllowList, patterns=settings.host_patterns, trusted_proxies=settings.trusted_proxies,
                       exempt_paths=(UPLOAD_GATE_PATH,)),
            Middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes),
        ],
        lifespan=_lifespan(images, settings),
    )


def _open_store(settings: Settings) -> ImageStore:
    """The image store; storage that cannot be opened, or a catalog that is not the images' own,
    stops start-up with one line naming the way out (a new empty catalog would hide the images)."""
    try:
        return open_image_store(settings.images_dir, min_free_bytes=settings.min_free_bytes)
    except (CatalogMissing, CatalogReplaced) as error:
        line = catalog_refusal(error, settings.images_dir)
    except StorageError as error:
        line = f"cannot open the storage in {settings.images_dir}: {error}"
    # Into app.log at INFO: warnings also go to the console, which gets the line once, below.
    logger.info("start-up refused: %s", line)
    # A message in SystemExit is one line on stderr and exit code 1, from `imagehost serve` and
    # from a uvicorn worker alike (uvicorn calls this factory and lets SystemExit through).
    raise SystemExit(f"imagehost: {line}")


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
    """Remove what earlier crashes provably left behind, off the request path; report the rest."""
    try:
        report = await anyio.to_thread.run_sync(images.sweep, abandon_on_cancel=True)
    except StorageError as error:
        logger.error("start-up sweep failed: %s", error)
        return
    work = report.work
    if work.leftovers:
        logger.warning(
            "sweep removed what earlier crashes left: %d uploads that never committed, %d partial files, %d stale markers",
            len(work.uncommitted), work.partial_files, work.committed_markers + len(work.mismatched),
        )
    if report.unrecorded:
        logger.warning(
            "%d image files have no catalog row (kept; e.g. %s): `imagehost check` lists them, "
            "`imagehost check --repair` rebuilds their rows",
            len(report.unrecorded), ", ".join(report.unrecorded[:5]),
        )
