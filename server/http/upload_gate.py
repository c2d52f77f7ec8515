"""`/auth/upload`: Nginx asks here, with the headers alone, whether to take an upload's body.

Nginx buffers a request body before a worker sees it (so a slow client holds no worker). For
multipart bodies it first sends their headers here (`auth_request`): a stranger's upload is
refused with 401 before Nginx reads a byte of it, as `imagehost serve` refuses it itself. The
refusal's code rides in a header for Nginx's JSON answer; the worker checks again when the
body arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from imagehost.http.authentication import refuse_anonymous_upload, request_viewer
from imagehost.http.refusals import RequestRefused
from imagehost.settings import Settings
from imagehost.storage import ImageStore

REFUSAL_HEADER = "X-Imagehost-Refusal"
UPLOAD_GATE_PATH = "/auth/upload"


def upload_gate(images: ImageStore, settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def gate(request: Request) -> Response:
        try:
            viewer = await request_viewer(
                request, images.accounts, settings.allowed_origins, settings.trusted_proxies,
                # Nginx asks with GET; the check of a cookie-carrying POST is the upload's own.
                method=request.headers.get("x-original-method", "POST"),
            )
            refuse_anonymous_upload(viewer, settings.public_uploads)
        except RequestRefused as refusal:
            return Response(status_code=refusal.status_code, headers={REFUSAL_HEADER: refusal.code, **(refusal.headers or {})})
        return Response(status_code=204)

    return gate
