"""How many images a request would store, known before any of it runs.

The multipart limit counts file parts, but the spec lets one part be mapped into any number of
variables, and one variable be used by any number of fields: one file in 50 aliased
`uploadImage` fields stores 50 images. What stores is a root mutation field with an `Upload`
argument, so the count is over those: 1 per field for an `Upload` argument, the length of the
list for an `[Upload]` argument. Every occurrence counts (an alias, a fragment spread, an inline
fragment), even one that GraphQL would merge with another or skip by `@skip`: the count may be
high, never low.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    build_schema,
    parse,
)
from graphql.utilities import get_operation_ast
from strawberry.schema import BaseSchema
from strawberry.utils.operation import get_first_operation

from imagehost.schema.limits import CACHED_DOCUMENTS, MAX_TOKENS, query_too_large

UPLOAD_SCALAR = "Upload"


@dataclass(frozen=True, slots=True)
class UploadArgument:
    name: str
    is_list: bool


UploadFields = Mapping[str, tuple[UploadArgument, ...]]
"""Root mutation field name -> its Upload arguments."""
Defaults = Mapping[str, ValueNode | None]
"""Variable name -> its default value in the operation's definition."""


def upload_fields(schema: BaseSchema) -> UploadFields:
    """The root mutation fields that take files, read from the schema's SDL (not listed by hand)."""
    mutation = build_schema(schema.as_str()).mutation_type
    fields: dict[str, tuple[UploadArgument, ...]] = {}
    for name, field in (mutation.fields if mutation else {}).items():
        arguments = []
        for argument_name, argument in field.args.items():
            argument_type = _nullable(argument.type)
            is_list = isinstance(argument_type, GraphQLList)
            named = _nullable(argument_type.of_type) if is_list else argument_type
            if getattr(named, "name", None) == UPLOAD_SCALAR:
                arguments.append(UploadArgument(argument_name, is_list))
        if arguments:
            fields[name] = tuple(arguments)
    return fields


def stored_images(
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    uploads: UploadFields,
) -> int:
    """How many images running `operation_name` of `document` with `variables` could store."""
    operation = _operation_to_run(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return 0
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    variables = variables or {}
    defaults = {
        definition.variable.name.value: definition.default_value
        for definition in operation.variable_definitions or ()
    }
    known: dict[str, int] = {}
    in_progress: set[str] = set()

    def fragment(name: str) -> int:
        if name not in known:
            definition = fragments.get(name)
            if definition is None or name in in_progress:
                return 0  # an unknown fragment or a cycle: validation refuses the document
            in_progress.add(name)
            known[name] = count(definition.selection_set)
            in_progress.discard(name)
        return known[name]

    def count(selections: SelectionSetNode) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += _field_images(selection, uploads, variables, defaults)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment(selection.name.value)
        return total

    return count(operation.selection_set)


def request_images(
    query: object, operation_name: object, variables: object, uploads: UploadFields
) -> int:
    """`stored_images` for one operation of a request as it arrived (any field may be of a wrong type)."""
    if not isinstance(query, str) or not uploads:
        return 0
    document = parsed_document(query)
    if document is None:
        return 0  # not a document the schema would run
    return stored_images(
        document,
        operation_name if isinstance(operation_name, str) else None,
        variables if isinstance(variables, Mapping) else None,
        uploads,
    )


@lru_cache(maxsize=CACHED_DOCUMENTS)
def parsed_document(query: str) -> DocumentNode | None:
    """The document as the schema would parse it, or None when the schema would refuse it unparsed."""
    if query_too_large(query):
        return None
    try:
        return parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None


def _operation_to_run(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    if operation_name is None:  # as Strawberry picks it: the first operation's name
        first = get_first_operation(document)
        operation_name = first.name.value if first is not None and first.name is not None else None
    return get_operation_ast(document, operation_name)


def _field_images(
    field: FieldNode, uploads: UploadFields, variables: Mapping[str, Any], defaults: Defaults
) -> int:
    arguments = uploads.get(field.name.value)
    if not arguments:
        return 0
    given = {argument.name.value: argument.value for argument in field.arguments or ()}
    return sum(
        _list_length(given.get(argument.name), variables, defaults) if argument.is_list else 1
        for argument in arguments
    )


def _list_length(value: ValueNode | None, variables: Mapping[str, Any], defaults: Defaults) -> int:
    """Items of a list argument; a single value counts 1 (GraphQL coerces it to a list of one)."""
    if value is None or isinstance(value, NullValueNode):
        return 0
    if isinstance(value, ListValueNode):
        return len(value.values)
    if isinstance(value, VariableNode):
        name = value.name.value
        if name not in variables:
            return _list_length(defaults.get(name), variables, {})
        given = variables[name]
        if given is None:
            return 0
        return len(given) if isinstance(given, (list, tuple)) else 1
    return 1


def _nullable(graphql_type: Any) -> Any:
    return graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
