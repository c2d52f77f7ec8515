"""Strawberry's ASGI view, with the parts a public upload endpoint needs.

Over the stock view it adds: our multipart limits and strict GraphQL-multipart-spec checks,
whole-request refusals as GraphQL-shaped JSON, the cross-origin rule for POSTs,
`application/graphql-response+json` when the client asks for it, GraphiQL from local files,
and removing the request's spool files before the answer goes out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from cross_web import FormData as AdapterFormData, HTTPException, StarletteRequestAdapter
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from imagehost.http.access_log import VIEWER_SCOPE_KEY
from imagehost.http.authentication import ResponseSessionCookie, refuse_anonymous_upload, request_viewer
from imagehost.http.forwarded import client_address, request_origin
from imagehost.http.json_body import load_json
from imagehost.http.multipart import Spool, parse_form
from imagehost.http.origins import cross_origin_refusal
from imagehost.http.refusals import RequestRefused, refusal_response
from imagehost.resolvers.context import Context
from imagehost.resolvers.limits import UploadLimits
from imagehost.schema import request_images, upload_fields
from imagehost.settings import Settings
from imagehost.storage import ImageStore

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
FORM_SCOPE_KEY = "imagehost.form"
GRAPHIQL_ASSETS = "/vendor/graphiql"


class FormLimitedRequestAdapter(StarletteRequestAdapter):
    """Parses multipart bodies with our limits, into the image store's spool files."""

    limits: UploadLimits
    spool: Spool

    async def get_form_data(self) -> AdapterFormData:
        request: Request = self._request
        form = await parse_form(
            request.headers,
            request.stream(),
            type(self).spool,
            max_file_bytes=self.limits.max_upload_bytes,
            max_files=self.limits.max_files,
        )
        request.scope[FORM_SCOPE_KEY] = form
        return AdapterFormData(files=form, form=form)


def _adapter_for(limits: UploadLimits, spool: Spool) -> type[FormLimitedRequestAdapter]:
    # Strawberry builds the adapter from the request alone, so what it needs rides on the class.
    class RequestAdapter(FormLimitedRequestAdapter):
        pass

    RequestAdapter.limits = limits
    RequestAdapter.spool = spool
    return RequestAdapter


class ImagehostGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings, images: ImageStore) -> None:
        super().__init__(schema, multipart_uploads_enabled=True, allow_queries_via_get=True)
        self.settings = settings
        self.images = images
        self.limits = UploadLimits(
            settings.max_upload_bytes,
            settings.max_pixels,
            settings.max_files,
            keep_metadata=settings.keep_metadata,
            public_uploads=settings.public_uploads,
            public_uploads_per_hour=settings.public_uploads_per_hour,
        )
        self.request_adapter_class = _adapter_for(self.limits, images.spool)
        self._ide_html = _local_graphiql(get_graphql_ide_html("graphiql"))
        self._upload_fields = upload_fields(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        settings = self.settings
        try:
            if request.method == "POST":
                reason = cross_origin_refusal(request, settings.allowed_origins, settings.trusted_proxies)
                if reason:
                    raise RequestRefused(403, reason, "CROSS_ORIGIN_FORBIDDEN")
            # Who is asking, from the headers alone: a stranger's upload is refused before a
            # byte of its body is read (nothing is spooled for someone without an account).
            viewer = await request_viewer(request, self.images.accounts, settings.allowed_origins, settings.trusted_proxies)
            if _is_multipart(request):
                refuse_anonymous_upload(viewer, settings.public_uploads)
            scope[VIEWER_SCOPE_KEY] = viewer
            response = await self.run(request)
        except RequestRefused as refusal:
            response = refusal_response(refusal.status_code, refusal.message, refusal.code, refusal.headers)
        except HTTPException as error:
            response = refusal_response(error.status_code, error.reason)
        finally:
            _close_uploads(scope.pop(FORM_SCOPE_KEY, None))
        await response(scope, receive, send)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        """Check the whole request, then run a batch one operation after another, in the order given.

        Before anything runs: every operation's fields must have their types, and all operations
        together may store at most `max_files` images (one file mapped into many fields counts
        once per field), so a request over it stores nothing.

        Strawberry runs a batch concurrently; but the multipart spec lets one file be mapped into
        several operations, and concurrent readers of one file would move each other's position.
        In order, each operation sees the whole file, and a batch of mutations applies in order.
        """
        self._refuse_before_running(request_data if isinstance(request_data, list) else [request_data])
        if not isinstance(request_data, list):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        return [
            await self.execute_single(request, request_adapter, sub_response, context, root_value, data)
            for data in request_data
        ]

    def _refuse_before_running(self, operations: list[GraphQLRequestData]) -> None:
        for number, operation in enumerate(operations, start=1):
            where = f"operation {number} of the batch" if len(operations) > 1 else "the operation"
            for field, value, kinds in (
                ("query", operation.query, (str, type(None))),
                ("operationName", operation.operation_name, (str, type(None))),
                ("variables", operation.variables, (dict, type(None))),
                ("extensions", operation.extensions, (dict, type(None))),
            ):
                if not isinstance(value, kinds):
                    kind = "a string" if str in kinds else "an object"
                    raise RequestRefused(400, f"`{field}` of {where} must be {kind} or null", "BAD_REQUEST")
        stored = sum(
            request_images(operation.query, operation.operation_name, operation.variables, self._upload_fields)
            for operation in operations
        )
        if stored > self.limits.max_files:
            raise RequestRefused(
                413,
                f"The request would store {stored} images; at most {self.limits.max_files} are allowed per "
                "request (a file mapped into several fields counts once per field)",
                "TOO_MANY_FILES",
            )

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            # GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed (Strawberry says 400).
            if request_adapter.method == "GET" and isinstance(error.__cause__, InvalidOperationTypeError):
                raise RequestRefused(405, "Mutations must be sent with POST, not GET", "METHOD_NOT_ALLOWED") from error
            raise

    def decode_json(self, data: str | bytes) -> object:
        """Strawberry's hook for the JSON body and GET's `variables`/`extensions`: our guarded loader."""
        return load_json(data)

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        trusted = self.settings.trusted_proxies
        origin = request_origin(request, trusted)
        return Context(
            images=self.images,
            limits=self.limits,
            base_url=self.settings.public_url or origin,
            client=client_address(request, trusted),
            viewer=request.scope.get(VIEWER_SCOPE_KEY),
            session_cookie=ResponseSessionCookie(response, secure=origin.startswith("https:")),
        )

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        # Remember what the client accepts; create_response only sees the sub-response.
        sub_response.media_type = _negotiate(request.headers.get("accept", ""))
        return sub_response

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._ide_html)

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        """Strict GraphQL multipart request spec: `operations` and `map` must both be there and be JSON.

        The parser has already held the body to the spec's order (each field once, then only files)."""
        form_data = await request.get_form_data()
        form: FormData = form_data.form
        operations = _json_field(form, "operations")
        files_map = _json_field(form, "map")
        if not isinstance(operations, (dict, list)):
            raise RequestRefused(400, "`operations` must be a JSON object or array", "MALFORMED_MULTIPART")
        if not isinstance(files_map, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths) for paths in files_map.values()
        ):
            raise RequestRefused(400, "`map` must be a JSON object of file field names to lists of paths", "MALFORMED_MULTIPART")
        files = {key: value for key, value in form.multi_items() if isinstance(value, UploadFile)}
        for key in files_map:
            if key in files:
                continue
            problem = "is not a file part" if key in form else "is not in the request"
            raise RequestRefused(400, f"`map` names the field {key!r}, which {problem}", "MALFORMED_MULTIPART")
        try:
            return replace_placeholders_with_files(cast("dict[str, Any]", operations), files_map, files)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise RequestRefused(400, f"`map` has a path that does not fit `operations`: {error}", "MALFORMED_MULTIPART") from None

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if _is_request_error(result):
            # A request that never executed (a syntax or validation error) has no `data`.
            response.pop("data", None)
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        media_type = sub_response.media_type or "application/json"
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media_type
        if media_type == GRAPHQL_RESPONSE_JSON and _lacks_data(response_data) and not sub_response.status_code:
            # GraphQL over HTTP: with this media type, a request error is a 400.
            response.status_code = 400
        return response


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/")


def _negotiate(accept: str) -> str:
    """The response media type for an Accept header; graphql-response+json when preferred."""
    best, best_q = "application/json", -1.0
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in {GRAPHQL_RESPONSE_JSON, "application/json", "application/*", "*/*"} and q > best_q:
            best, best_q = (GRAPHQL_RESPONSE_JSON if media == GRAPHQL_RESPONSE_JSON else "application/json"), q
    return best


def _is_request_error(result: ExecutionResult) -> bool:
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or [])


def _lacks_data(response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> bool:
    if isinstance(response_data, list):
        return bool(response_data) and all("data" not in item for item in response_data)
    return "data" not in response_data


def _close_uploads(form: FormData | None) -> None:
    """Remove the request's spool files once its answer is ready (stored images are hard links)."""
    if form is not None:
        for _name, value in form.multi_items():
            if isinstance(value, UploadFile):
                value.file.close()


def _json_field(form: FormData, name: str) -> Any:
    value = form.get(name)
    if not isinstance(value, str):
        raise RequestRefused(400, f"The multipart request has no `{name}` field", "MALFORMED_MULTIPART")
    try:
        return load_json(value)
    except json.JSONDecodeError:
        raise RequestRefused(400, f"The `{name}` field is not valid JSON", "MALFORMED_MULTIPART") from None


def _local_graphiql(html: str) -> str:
    """Point Strawberry's GraphiQL page at the copies under frontend/vendor/graphiql/."""
    replacements: Mapping[str, str] = {
        "https://unpkg.com/react@18.2.0/umd/": f"{GRAPHIQL_ASSETS}/react/",
        "https://unpkg.com/react-dom@18.2.0/umd/": f"{GRAPHIQL_ASSETS}/react-dom/",
        "https://unpkg.com/js-cookie@3.0.5/dist/": f"{GRAPHIQL_ASSETS}/js-cookie/",
        "https://unpkg.com/graphiql@3.8.3/": f"{GRAPHIQL_ASSETS}/graphiql/",
        "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/": f"{GRAPHIQL_ASSETS}/plugin-explorer/",
    }
    for remote, local in replacements.items():
        html = html.replace(remote, local)
    if "https://unpkg.com" in html:
        raise RuntimeError("Strawberry's GraphiQL page names an asset we have no local copy of")
    return html
