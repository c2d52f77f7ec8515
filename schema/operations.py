"""The Query and Mutation roots: argument handling, permissions and mapping; the work is in resolvers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry.file_uploads import Upload
from strawberry.permission import BasePermission

from imagehost.resolvers import accounts, catalog, uploads
from imagehost.resolvers.catalog import InvalidArgument
from imagehost.resolvers.context import Context
from imagehost.schema.account_types import (
    MEBIBYTE,
    AccountResult,
    ApiToken,
    NewApiToken,
    SignInResult,
    User,
    account_result,
    sign_in_result,
)
from imagehost.schema.permissions import IsAdmin, IsSignedIn, MayUpload
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
SIGNED_IN: list[type[BasePermission]] = [IsSignedIn]
ADMINS: list[type[BasePermission]] = [IsSignedIn, IsAdmin]
ANYONE_MAY_UPLOAD: list[type[BasePermission]] = [MayUpload]


async def _user_input(call: Awaitable[T]) -> T:
    """Turn an out-of-range argument into a GraphQL error a client can act on."""
    try:
        return await call
    except InvalidArgument as error:
        raise GraphQLError(str(error), extensions={"code": "BAD_USER_INPUT"}) from error


@strawberry.type
class Query:
    @strawberry.field(
        description="The viewer's images, newest first; with `all: true` (admins only) everyone's. "
        "`first` is 1..100; `after` is an endCursor from an earlier page.",
        permission_classes=SIGNED_IN,
    )
    async def images(self, info: Info, first: int = 50, after: str | None = None, all: bool = False) -> ImageConnection:
        page = await _user_input(catalog.list_images(info.context, first, after, everyone=all))
        return ImageConnection.from_page(page, info.context)

    @strawberry.field(description="One image by id; null when there is none or the viewer may not see it.")
    async def image(self, info: Info, id: strawberry.ID) -> Image | None:
        record = await catalog.get_image(info.context, str(id))
        return Image.from_record(record, info.context) if record else None

    @strawberry.field(description="Who is signed in (session cookie or API token); null when nobody is.")
    async def viewer(self, info: Info) -> User | None:
        record = await accounts.viewer_user(info.context)
        return User.from_record(record) if record else None

    @strawberry.field(description="Every account (admins only).", permission_classes=ADMINS)
    async def users(self, info: Info) -> list[User]:
        return [User.from_record(record) for record in await accounts.list_users(info.context)]

    @strawberry.field(description="The viewer's API tokens (never their secrets).", permission_classes=SIGNED_IN)
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        return [ApiToken.from_record(record) for record in await accounts.api_tokens(info.context)]

    @strawberry.field(description="The upload limits and accepted types (beyond the public contract; used by the UI).")
    def upload_limits(self, info: Info) -> UploadLimits:
        return UploadLimits.from_limits(info.context.limits)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Store one image. A refused file is an UploadError, not a GraphQL error.",
        permission_classes=ANYONE_MAY_UPLOAD,
    )
    async def upload_image(self, info: Info, file: Upload) -> UploadResult:
        upload = cast("uploads.UploadedFile | str", file)  # what the multipart parser hands over
        return upload_result(await uploads.upload_image(info.context, upload), info.context)

    @strawberry.mutation(
        description="Store several images; one result per file, in the order given.", permission_classes=ANYONE_MAY_UPLOAD
    )
    async def upload_images(self, info: Info, files: list[Upload]) -> list[UploadResult]:
        if len(files) > info.context.limits.max_files:
            raise GraphQLError(
                f"{len(files)} files in one request; at most {info.context.limits.max_files} are allowed",
                extensions={"code": "TOO_MANY_FILES"},
            )
        results = await uploads.upload_images(info.context, cast("list[uploads.UploadedFile | str]", files))
        return [upload_result(result, info.context) for result in results]

    @strawberry.mutation(
        description="Delete an image and everything stored for it. Allowed to its owner, an admin, or whoever "
        "holds its deleteToken; anyone else gets ImageNotFound."
    )
    async def delete_image(self, info: Info, id: strawberry.ID, delete_token: str | None = None) -> DeleteResult:
        record = await catalog.delete_image(info.context, str(id), delete_token)
        if record is None:
            return ImageNotFound(id=id, message=f"There is no image with id {id}; it may have been deleted already.")
        return DeletedImage(id=strawberry.ID(record.id))

    @strawberry.mutation(description="Start a browser session: on success the answer sets an HttpOnly session cookie.")
    async def sign_in(self, info: Info, username: str, password: str) -> SignInResult:
        return sign_in_result(await accounts.sign_in(info.context, username, password))

    @strawberry.mutation(description="End the current session server-side; false when there was none.")
    async def sign_out(self, info: Info) -> bool:
        return await accounts.sign_out(info.context)

    @strawberry.mutation(description="A new API token for the viewer; its secret is in this answer only.",
                         permission_classes=SIGNED_IN)
    async def create_api_token(self, info: Info, label: str) -> NewApiToken:
        token, secret = await accounts.create_api_token(info.context, label)
        return NewApiToken(token=ApiToken.from_record(token), secret=secret)

    @strawberry.mutation(description="Revoke one of the viewer's tokens; false when there is none with that id.",
                         permission_classes=SIGNED_IN)
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> bool:
        return await accounts.revoke_api_token(info.context, str(id))

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def change_password(self, info: Info, current_password: str, new_password: str) -> AccountResult:
        return account_result(await accounts.change_password(info.context, current_password, new_password))

    @strawberry.mutation(description="Admins only.", permission_classes=SIGNED_IN)
    async def create_user(self, info: Info, username: str, password: str, admin: bool = False) -> AccountResult:
        return account_result(await accounts.create_user(info.context, username, password, admin))

    @strawberry.mutation(description="Admins only; the account's images go with it.", permission_classes=ADMINS)
    async def delete_user(self, info: Info, id: strawberry.ID) -> bool:
        return await accounts.delete_user(info.context, str(id))

    @strawberry.mutation(description="Admins only: the account's quota in MiB (quotas past 2 GiB do not fit "
                         "GraphQL's Int as bytes); null for no limit.", permission_classes=SIGNED_IN)
    async def set_user_quota(self, info: Info, id: strawberry.ID, quota_mebibytes: int | None) -> AccountResult:
        quota = quota_mebibytes * MEBIBYTE if quota_mebibytes is not None else None
        return account_result(await accounts.set_quota(info.context, str(id), quota))

    @strawberry.mutation(description="Admins only: a new password for an account; its sessions end.",
                         permission_classes=SIGNED_IN)
    async def reset_password(self, info: Info, id: strawberry.ID, new_password: str) -> AccountResult:
        return account_result(await accounts.reset_password(info.context, str(id), new_password))
