"""Image bytes from the images folder, for `imagehost serve` (behind Nginx, Nginx serves them).

Starlette's StaticFiles brings ETag, Last-Modified, 304s and Range; this subclass serves only
names the blob store could have made (storage.keys: display bytes, thumbnails, originals; so
never the catalog) and adds the contract's headers, the same for every key.
"""

from __future__ import annotations

import os

from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from imagehost.storage.keys import KEY_PATTERN, content_type_of

IMAGE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


class ImageFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if not KEY_PATTERN.match(path):
            return PlainTextResponse("Not Found", status_code=404)
        return await super().get_response(path, scope)

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(IMAGE_HEADERS)
        if response.status_code != 304:
            response.headers["Content-Type"] = content_type_of(os.path.basename(full_path))
        return response

