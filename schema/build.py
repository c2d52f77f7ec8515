"""The Schema object, built once per app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from typing import Any, TypeGuard, cast

import strawberry
from graphql import DocumentNode, GraphQLError, GraphQLSchema, execute, parse, specified_rules, validate
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_first_operation, get_operation_type

from imagehost.schema.execution import PlainDataExecutionContext
from imagehost.schema.operations import Mutation, Query

MAX_BATCH_OPERATIONS = 10
PREPARED_DOCUMENTS = 256
PREPARED_MAX_LENGTH = 8 * 1024  # bounds the cache's memory; real documents are far smaller

logger = logging.getLogger("imagehost.graphql")


class ImagehostSchema(strawberry.Schema):
    """Strawberry's schema, with a short path for documents it has already parsed and validated.

    Clients send the same few documents over and over (the UI's, gql scripts'). For those,
    `execute` hands the cached document straight to graphql-core with Strawberry's own executor
    class; everything else (a first sighting, a syntax or validation error, a mutation sent with
    GET) goes through Strawberry's full path, so errors are reported exactly as Strawberry does.
    The schema has no extensions, so both paths run the same resolvers the same way; the short
    one skips only the per-request extension machinery, which cost more than the execution itself.
    """

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        document = _prepared(self._schema, query) if query and len(query) <= PREPARED_MAX_LENGTH else None
        allowed = DEFAULT_ALLOWED_OPERATION_TYPES if allowed_operation_types is None else set(allowed_operation_types)
        if document is not None and operation_name is None:
            operation_name = _first_operation_name(document)  # as Strawberry picks it
        operation_type = _operation_type(document, operation_name) if document else None
        if document is None or operation_type not in allowed:
            return await super().execute(
                query, variable_values, context_value, root_value, operation_name,
                allowed_operation_types, operation_extensions,
            )
        result = await await_maybe(
            execute(
                self._schema,
                document,
                root_value=root_value,
                variable_values=variable_values,
                operation_name=operation_name,
                context_value=context_value,
                is_awaitable=cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable),
                executor_class=self.execution_context_class,
                operation_extensions=operation_extensions,
            )
        )
        if result.errors:
            self.process_errors(result.errors)
        return ExecutionResult(data=result.data, errors=result.errors)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log a client's mistakes as one line; a failure of ours with its traceback."""
        for error in errors:
            cause = error.original_error
            if cause is None or isinstance(cause, GraphQLError):
                logger.info("graphql request error: %s", error.message)
            else:
                logger.error("graphql resolver failed: %s", error.message, exc_info=cause)


@lru_cache(maxsize=PREPARED_DOCUMENTS)
def _prepared(schema: GraphQLSchema, query: str) -> DocumentNode | None:
    """The parsed document when `query` is valid against `schema`; None sends it the long way."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    return None if validate(schema, document, specified_rules) else document


def _first_operation_name(document: DocumentNode) -> str | None:
    first = get_first_operation(document)
    return first.name.value if first is not None and first.name is not None else None


def _operation_type(document: DocumentNode, operation_name: str | None) -> OperationType | None:
    try:
        return get_operation_type(document, operation_name)
    except RuntimeError:  # no such operation: Strawberry's path reports it
        return None


def build_schema() -> strawberry.Schema:
    return ImagehostSchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=PlainDataExecutionContext,
        config=StrawberryConfig(batching_config={"max_operations": MAX_BATCH_OPERATIONS}),
    )
