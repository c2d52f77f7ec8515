"""Whole-request refusals, always answered as GraphQL-shaped JSON."""

from __future__ import annotations

from starlette.responses import JSONResponse


class RequestRefused(Exception):
    """The request as a whole cannot be served; `code` goes to `extensions.code`."""

    def __init__(self, status_code: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code
        self.headers = headers


# Default codes for statuses Strawberry itself refuses with.
STATUS_CODES = {
    400: "BAD_REQUEST",
    403: "CROSS_ORIGIN_FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def refusal_response(
    status_code: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code or STATUS_CODES.get(status_code, "BAD_REQUEST")}}]}
    headers = {**({"Allow": "GET, POST"} if status_code == 405 else {}), **(headers or {})}
    return JSONResponse(body, status_code=status_code, headers=headers or None)
