"""GraphQL object types; each `from_*` maps a resolver result onto the public shape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from imagehost.resolvers import accounts
from imagehost.resolvers.context import Context
from imagehost.resolvers.uploads import Stored
from imagehost.schema.account_types import User
from imagehost.resolvers.limits import ACCEPTED_TYPES, UploadLimits as LimitsRecord
from imagehost.resolvers.validation import Rejection, RejectionCode
from imagehost.storage import ImageRecord, Page
from imagehost.storage.formats import FORMATS

UploadErrorCode = strawberry.enum(RejectionCode, name="UploadErrorCode")
DISPLAY_TYPES = [image_format.content_type for image_format in FORMATS if image_format.browser_displayable]
STORED_BESIDE = [image_format for image_format in FORMATS if not image_format.browser_displayable]
CONTENT_TYPE_DESCRIPTION = (
    f"Detected from the bytes, never from the name: {', '.join(DISPLAY_TYPES[:-1])} or {DISPLAY_TYPES[-1]}"
    + "".join(f" ({image_format.name} uploads are shown as image/jpeg; the original stays at the same path"
              f" with the .{image_format.extension} extension)" for image_format in STORED_BESIDE)
    + "."
)


@strawberry.type(description="A stored image.")
class Image:
    id: strawberry.ID = strawberry.field(description="Opaque, URL-safe and unguessable.")
    filename: str = strawberry.field(description="The name it was uploaded with, cleaned for display.")
    content_type: str = strawberry.field(description=CONTENT_TYPE_DESCRIPTION)
    size: int = strawberry.field(description="Bytes stored.")
    width: int
    height: int
    url: str = strawberry.field(description="Absolute, shareable URL of the image bytes.")
    created_at: datetime
    thumbnail_url: str = strawberry.field(
        description="Absolute URL of a small rendition that fits in 512 x 512 pixels, for listings and previews."
    )
    delete_token: str | None = strawberry.field(
        description="Set only in the answer to an anonymous upload: the secret that lets its holder delete it."
    )
    owner_id: strawberry.Private[str | None]

    @strawberry.field(description="Who uploaded it; null for an anonymous upload.")
    async def owner(self, info: strawberry.Info[Context, None]) -> User | None:
        if self.owner_id is None:
            return None
        record = await accounts.user_by_id(info.context, self.owner_id)
        return User.from_record(record) if record else None

    @classmethod
    def from_record(cls, record: ImageRecord, context: Context, delete_token: str | None = None) -> Image:
        return cls(
            id=strawberry.ID(record.id),
            filename=record.filename,
            content_type=record.content_type,
            size=record.size,
            width=record.width,
            height=record.height,
            url=context.image_url(record.key),
            created_at=record.created_at,
            thumbnail_url=context.image_url(record.thumbnail_key),
            delete_token=delete_token,
            owner_id=record.owner_id,
        )


@strawberry.type(description="Why one file of an upload was refused; the other files are unaffected.")
class UploadError:
    code: UploadErrorCode  # type: ignore[valid-type]
    message: str = strawberry.field(description="A sentence a person can act on.")
    filename: str | None = strawberry.field(description="The name the file was sent with, when it had one.")

    @classmethod
    def from_rejection(cls, rejection: Rejection) -> UploadError:
        return cls(code=rejection.code, message=rejection.message, filename=rejection.filename)


UploadResult = Annotated[Image | UploadError, strawberry.union("UploadResult")]


def upload_result(result: Stored | Rejection, context: Context) -> Image | UploadError:
    if isinstance(result, Rejection):
        return UploadError.from_rejection(result)
    return Image.from_record(result.record, context, delete_token=result.delete_token)


@strawberry.type
class ImageEdge:
    cursor: str
    node: Image


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ImageConnection:
    edges: list[ImageEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="All stored images, not just this page.")

    @classmethod
    def from_page(cls, page: Page, context: Context) -> ImageConnection:
        return cls(
            edges=[
                ImageEdge(cursor=cursor, node=Image.from_record(record, context))
                for record, cursor in zip(page.records, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total_count,
        )


@strawberry.type
class DeletedImage:
    id: strawberry.ID


@strawberry.type
class ImageNotFound:
    id: strawberry.ID
    message: str


DeleteResult = Annotated[DeletedImage | ImageNotFound, strawberry.union("DeleteResult")]


@strawberry.type(description="What the server accepts, so clients can refuse a file before sending it.")
class UploadLimits:
    max_upload_bytes: int = strawberry.field(description="Bytes per file.")
    max_pixels: int = strawberry.field(description="Width x height per image.")
    max_files: int = strawberry.field(description="Files per request.")
    accepted_types: list[str] = strawberry.field(description="MIME types, judged by content.")
    public_uploads: bool = strawberry.field(description="Whether signed-out visitors may upload (with a delete token).")

    @classmethod
    def from_limits(cls, limits: LimitsRecord) -> UploadLimits:
        return cls(
            max_upload_bytes=limits.max_upload_bytes,
            max_pixels=limits.max_pixels,
            max_files=limits.max_files,
            accepted_types=list(ACCEPTED_TYPES),
            public_uploads=limits.public_uploads,
        )
