"""The Schema object, built once per app."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from imagehost.schema.operations import Mutation, Query

MAX_BATCH_OPERATIONS = 10

logger = logging.getLogger("imagehost.graphql")


class ImagehostSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log a client's mistakes as one line; a failure of ours with its traceback."""
        for error in errors:
            cause = error.original_error
            if cause is None or isinstance(cause, GraphQLError):
                logger.info("graphql request error: %s", error.message)
            else:
                logger.error("graphql resolver failed: %s", error.message, exc_info=cause)


def build_schema() -> strawberry.Schema:
    return ImagehostSchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(batching_config={"max_operations": MAX_BATCH_OPERATIONS}),
        # Clients send the same few documents over and over: parse and validate each once
        # (the caches live at module level; the factories only make the per-request hooks).
        extensions=[lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)],
    )
