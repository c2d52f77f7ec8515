"""The Schema object, built once per app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from imagehost.schema.limits import CACHED_DOCUMENTS, CostRules, QuerySizeLimit, TokenLimit
from imagehost.schema.operations import Mutation, Query

MAX_BATCH_OPERATIONS = 10

logger = logging.getLogger("imagehost.graphql")

Extension = type[SchemaExtension] | Callable[[], SchemaExtension]

EXTENSIONS: tuple[Extension, ...] = (
    # The order matters where two extensions work in the same stage: the size check refuses a
    # query before ParserCache's `on_parse` parses it. The token and cost limits act in
    # `on_operation` (parse options, validation rules), which runs for every extension before
    # parsing, so both caches key on them: a cached document cannot skip a limit.
    QuerySizeLimit,
    TokenLimit,
    partial(ParserCache, maxsize=CACHED_DOCUMENTS),
    CostRules,
    partial(ValidationCache, maxsize=CACHED_DOCUMENTS),
)


class ImagehostSchema(strawberry.Schema):
    """Strawberry's schema, with our error logging."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log a client's mistakes as one line; a failure of ours with its traceback."""
        for error in errors:
            cause = error.original_error
            if cause is None or isinstance(cause, GraphQLError):
                logger.info("graphql request error: %s", error.message)
            else:
                logger.error("graphql resolver failed: %s", error.message, exc_info=cause)


def build_schema(extensions: Iterable[Extension] = ()) -> ImagehostSchema:
    """The app's schema; `extensions` run after ours (tests add their own)."""
    return ImagehostSchema(
        query=Query,
        mutation=Mutation,
        extensions=(*EXTENSIONS, *extensions),
        config=StrawberryConfig(batching_config={"max_operations": MAX_BATCH_OPERATIONS}),
    )
