"""GraphQL types of accounts, sessions and API tokens; `from_*` map resolver results onto them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from imagehost.resolvers.accounts import AccountProblem, AccountProblemCode, SignInProblem, SignInProblemCode
from imagehost.storage import ApiTokenRecord, UserRecord

INT_MAX = 2**31 - 1
"""GraphQL's Int is a signed 32-bit number: byte counts past 2 GiB are served as this (saturated)."""
MEBIBYTE = 1024 * 1024

SignInErrorCode = strawberry.enum(SignInProblemCode, name="SignInErrorCode")
AccountErrorCode = strawberry.enum(AccountProblemCode, name="AccountErrorCode")


@strawberry.type(description="An account.")
class User:
    id: strawberry.ID
    username: str
    is_admin: bool
    created_at: datetime
    image_count: int = strawberry.field(description="Images this account owns.")
    stored_bytes: int = strawberry.field(description="Bytes stored for them, renditions included.")
    quota_bytes: int | None = strawberry.field(
        description=f"Null: no limit. GraphQL's Int is 32-bit: at most {INT_MAX} (see quotaMebibytes)."
    )
    stored_mebibytes: float = strawberry.field(description="storedBytes in MiB, for sizes past what Int holds.")
    quota_mebibytes: int | None = strawberry.field(description="The quota in MiB (what setUserQuota takes).")

    @classmethod
    def from_record(cls, record: UserRecord) -> User:
        return cls(
            id=strawberry.ID(record.id),
            username=record.username,
            is_admin=record.is_admin,
            created_at=record.created_at,
            image_count=record.image_count,
            stored_bytes=min(record.stored_bytes, INT_MAX),
            quota_bytes=min(record.quota_bytes, INT_MAX) if record.quota_bytes is not None else None,
            stored_mebibytes=round(record.stored_bytes / MEBIBYTE, 2),
            quota_mebibytes=record.quota_bytes // MEBIBYTE if record.quota_bytes is not None else None,
        )


@strawberry.type(description="An API token (never its secret).")
class ApiToken:
    id: strawberry.ID
    label: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_record(cls, record: ApiTokenRecord) -> ApiToken:
        return cls(
            id=strawberry.ID(record.id), label=record.label, created_at=record.created_at, last_used_at=record.last_used_at
        )


@strawberry.type
class NewApiToken:
    token: ApiToken
    secret: str = strawberry.field(
        description="Send as `Authorization: Bearer <secret>`. Shown once; the server keeps only a hash."
    )


@strawberry.type
class SignedIn:
    user: User


@strawberry.type
class SignInFailed:
    code: SignInErrorCode  # type: ignore[valid-type]
    message: str
    retry_after_seconds: int | None = strawberry.field(description="With RATE_LIMITED: when another attempt may succeed.")


SignInResult = Annotated[SignedIn | SignInFailed, strawberry.union("SignInResult")]


@strawberry.type
class AccountError:
    code: AccountErrorCode  # type: ignore[valid-type]
    message: str


AccountResult = Annotated[User | AccountError, strawberry.union("AccountResult")]


def sign_in_result(result: UserRecord | SignInProblem) -> SignedIn | SignInFailed:
    if isinstance(result, SignInProblem):
        return SignInFailed(code=result.code, message=result.message, retry_after_seconds=result.retry_after_seconds)
    return SignedIn(user=User.from_record(result))


def account_result(result: UserRecord | AccountProblem) -> User | AccountError:
    if isinstance(result, AccountProblem):
        return AccountError(code=result.code, message=result.message)
    return User.from_record(result)
