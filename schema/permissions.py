"""Who may call a field: Strawberry permission classes, checked on every request (cached
documents included: permissions run at execution, after the caches)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from imagehost.resolvers.context import Context


class IsSignedIn(BasePermission):
    message = "Sign in first: this needs an account (a session, or an API token as `Authorization: Bearer`)"
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context: Context = info.context
        return context.viewer is not None


class IsAdmin(BasePermission):
    """Use after IsSignedIn (`[IsSignedIn, IsAdmin]`): signed out is another answer, UNAUTHENTICATED."""

    message = "Only admins may do this"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context: Context = info.context
        return context.viewer is not None and context.viewer.is_admin


class MayUpload(BasePermission):
    """Signed in, or anyone when public uploads are on (the HTTP edge already refused an
    anonymous multipart body before reading it; this covers every other way in)."""

    message = IsSignedIn.message
    error_extensions = IsSignedIn.error_extensions

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context: Context = info.context
        return context.viewer is not None or context.limits.public_uploads
