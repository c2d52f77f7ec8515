"""The Query and Mutation roots: argument handling and mapping, the work is in resolvers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry.file_uploads import Upload

from imagehost.resolvers import catalog, uploads
from imagehost.resolvers.catalog import InvalidArgument
from imagehost.resolvers.context import Context
from imagehost.schema.types import (
    DeletedImage,
    DeleteResult,
    Image,
    ImageConnection,
    ImageNotFound,
    UploadLimits,
    UploadResult,
    upload_result,
)

Info = strawberry.Info[Context, None]
T = TypeVar("T")


async def _user_input(call: Awaitable[T]) -> T:
    """Turn an out-of-range argument into a GraphQL error a client can act on."""
    try:
        return await call
    except InvalidArgument as error:
        raise GraphQLError(str(error), extensions={"code": "BAD_USER_INPUT"}) from error


@strawberry.type
class Query:
    @strawberry.field(description="Stored images, newest first. `first` is 1..100; `after` is an endCursor from an earlier page.")
    async def images(self, info: Info, first: int = 50, after: str | None = None) -> ImageConnection:
        page = await _user_input(catalog.list_images(info.context, first, after))
        return ImageConnection.from_page(page, info.context)

    @strawberry.field(description="One image by id; null when there is none.")
    async def image(self, info: Info, id: strawberry.ID) -> Image | None:
        record = await catalog.get_image(info.context, str(id))
        return Image.from_record(record, info.context) if record else None

    @strawberry.field(description="The upload limits and accepted types (beyond the public contract; used by the UI).")
    def upload_limits(self, info: Info) -> UploadLimits:
        return UploadLimits.from_limits(info.context.limits)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Store one image. A refused file is an UploadError, not a GraphQL error.")
    async def upload_image(self, info: Info, file: Upload) -> UploadResult:
        upload = cast("uploads.UploadedFile | str", file)  # what the multipart parser hands over
        return upload_result(await uploads.upload_image(info.context, upload), info.context)

    @strawberry.mutation(description="Store several images; one result per file, in the order given.")
    async def upload_images(self, info: Info, files: list[Upload]) -> list[UploadResult]:
        if len(files) > info.context.limits.max_files:
            raise GraphQLError(
                f"{len(files)} files in one request; at most {info.context.limits.max_files} are allowed",
                extensions={"code": "TOO_MANY_FILES"},
            )
        results = await uploads.upload_images(info.context, cast("list[uploads.UploadedFile | str]", files))
        return [upload_result(result, info.context) for result in results]

    @strawberry.mutation(description="Delete an image and everything stored for it.")
    async def delete_image(self, info: Info, id: strawberry.ID) -> DeleteResult:
        record = await catalog.delete_image(info.context, str(id))
        if record is None:
            return ImageNotFound(id=id, message=f"There is no image with id {id}; it may have been deleted already.")
        return DeletedImage(id=strawberry.ID(record.id))
