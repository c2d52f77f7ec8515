"""Strawberry's graphql-core executor, with a short path for plain data.

A page of 50 images is about 500 fields, 450 of them leaves such as `width` or `url` that
Strawberry resolves by reading an attribute. graphql-core spends far more on each of those than
the read itself: a path entry, a resolve-info tuple, an arguments check and four type tests on the
way to `coerce_output_value`, and as many again for each edge and node object around them.

A field is *plain* when Strawberry resolves it by reading an attribute (no resolver, no
arguments, no middleware) and its type is a scalar, an enum, an object type without an
`is_type_of` check whose selected fields are all plain, or a list of those. Plain fields are
completed here in one pass over the data, once a plan for the selection has been made (per
request, like graphql-core's own memo of collected fields).

Anything unusual (a null in a non-null field, a value the scalar refuses, an awaitable, an
iterable that is not a list, a `@defer` or `@stream`) sends the field back to graphql-core's own
path, which reads the attributes again (reads have no side effects) and reports the error exactly
as it always does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

IsAwaitable = Callable[[Any], bool]

_UNUSUAL = object()
"""What a plan returns when graphql-core's path must complete the field instead."""

_SELECTION_DIRECTIVES = frozenset({"skip", "include"})  # already applied when fields are collected


class _Completer(Protocol):
    def complete(self, value: Any, is_awaitable: IsAwaitable) -> Any:
        """The value as it goes into the response; `_UNUSUAL` when graphql-core must do it."""


@dataclass(frozen=True, slots=True)
class _Leaf:
    type: GraphQLLeafType

    def complete(self, value: Any, is_awaitable: IsAwaitable) -> Any:
        try:
            coerced = self.type.coerce_output_value(value)
        except Exception:  # noqa: BLE001 - graphql-core's path reports it
            return _UNUSUAL
        return _UNUSUAL if coerced is None or coerced is Undefined else coerced


@dataclass(frozen=True, slots=True)
class _Field:
    """A plain field: read an attribute, then complete what it holds."""

    read: Callable[[Any, str], Any]
    attribute: str
    completer: _Completer
    non_null: bool

    def complete(self, source: Any, is_awaitable: IsAwaitable) -> Any:
        try:
            value = self.read(source, self.attribute)
        except Exception:  # noqa: BLE001 - graphql-core's path reports it
            return _UNUSUAL
        return _complete_nullable(value, self.completer, self.non_null, is_awaitable)


@dataclass(frozen=True, slots=True)
class _Object:
    fields: tuple[tuple[str, _Field], ...]

    def complete(self, source: Any, is_awaitable: IsAwaitable) -> Any:
        results = {}
        for response_name, field in self.fields:
            value = field.complete(source, is_awaitable)
            if value is _UNUSUAL:
                return _UNUSUAL
            results[response_name] = value
        return results


@dataclass(frozen=True, slots=True)
class _List:
    item: _Completer
    item_non_null: bool

    def complete(self, value: Any, is_awaitable: IsAwaitable) -> Any:
        if type(value) is not list and type(value) is not tuple:
            return _UNUSUAL  # an iterator would be used up: graphql-core's path reads it
        completed = []
        for item in value:
            item_value = _complete_nullable(item, self.item, self.item_non_null, is_awaitable)
            if item_value is _UNUSUAL:
                return _UNUSUAL
            completed.append(item_value)
        return completed


def _complete_nullable(value: Any, completer: _Completer, non_null: bool, is_awaitable: IsAwaitable) -> Any:
    if value is None:
        return _UNUSUAL if non_null else None
    if is_awaitable(value):
        return _UNUSUAL
    return completer.complete(value, is_awaitable)


def _type_name(_source: Any, type_name: str) -> str:
    """`__typename` as a plain field: its "attribute" is the name of the type being completed."""
    return type_name


class PlainDataExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes plain fields (see the module's docstring) without graphql-core's per-field bookkeeping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed like graphql-core's own memo of collected fields: by the identity of a field group
        # or field set, kept alive beside its entry so that the id is not reused during execution.
        self._field_plans: dict[int, tuple[FieldDetailsList, _Field | None]] = {}
        self._object_plans: dict[int, tuple[GroupedFieldSet, _Object | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plan = self._object_plan(parent_type, grouped_field_set)
        if plan is not None:
            results = plan.complete(source_value, self.is_awaitable)
            if results is not _UNUSUAL:
                return results
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        plan = self._field_plan(parent_type, field_details_list)
        if plan is not None:
            value = plan.complete(source, self.is_awaitable)
            if value is not _UNUSUAL:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _object_plan(self, object_type: GraphQLObjectType, fields: GroupedFieldSet) -> _Object | None:
        cached = self._object_plans.get(id(fields))
        if cached is None:
            plans = tuple((name, self._field_plan(object_type, group)) for name, group in fields.items())
            plan = _Object(plans) if plans and all(p is not None for _n, p in plans) else None  # type: ignore[arg-type]
            cached = self._object_plans[id(fields)] = (fields, plan)
        return cached[1]

    def _field_plan(self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Field | None:
        cached = self._field_plans.get(id(field_details_list))
        if cached is None:
            plan = self._plan_field(parent_type, field_details_list)
            cached = self._field_plans[id(field_details_list)] = (field_details_list, plan)
        return cached[1]

    def _plan_field(self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Field | None:
        node = field_details_list[0].node
        if node.name.value == "__typename":
            return _Field(_type_name, parent_type.name, _Leaf(GraphQLString), non_null=True)
        field = self.schema.get_field(parent_type, node.name.value)
        if field is None or field.args or node.arguments or field.resolve is None:
            return None
        if not getattr(field.resolve, "_is_default", False):  # not Strawberry's attribute read
            return None
        middleware = self.middleware_manager
        if middleware is not None and middleware.get_field_resolver(field.resolve) is not field.resolve:
            return None  # a middleware wraps it: graphql-core's path runs it
        if any(d.name.value not in _SELECTION_DIRECTIVES for f in field_details_list for d in f.node.directives or ()):
            return None  # @stream and the like: graphql-core's path handles them
        field_type, non_null = _nullable(field.type)
        completer = self._completer(field_type, field_details_list)
        if completer is None:
            return None
        definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        return _Field(definition.default_resolver, definition.python_name, completer, non_null)

    def _completer(self, field_type: GraphQLOutputType, field_details_list: FieldDetailsList) -> _Completer | None:
        if is_leaf_type(field_type):
            return _Leaf(field_type)
        if isinstance(field_type, GraphQLList):
            item_type, item_non_null = _nullable(field_type.of_type)
            item = self._completer(item_type, field_details_list)
            return None if item is None else _List(item, item_non_null)
        if isinstance(field_type, GraphQLObjectType) and field_type.is_type_of is None:
            grouped_field_set, defer_usages, forbidden = self.collect_subfields(field_type, field_details_list)
            if defer_usages or forbidden:
                return None
            return self._object_plan(field_type, grouped_field_set)
        return None  # unions, interfaces and objects that check their values: graphql-core's path


def _nullable(field_type: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    if isinstance(field_type, GraphQLNonNull):
        return field_type.of_type, True
    return field_type, False
