"""Strawberry's graphql-core executor, with a short path for plain leaf fields.

A page of 50 images is about 500 fields, 450 of them leaves such as `width` or `url` that
Strawberry resolves by reading an attribute. graphql-core spends far more on each of those than
the read itself: a path entry, a resolve-info tuple, an arguments check and four type tests on the
way to `coerce_output_value`. For a field with no arguments whose type is a scalar or an enum and
whose resolver is Strawberry's attribute read, this executor reads and coerces the value itself;
an object made only of such fields (an `Image` node) becomes its dict in one loop.

Anything unusual (a null in a non-null field, a value the scalar refuses, an awaitable) goes
through graphql-core's own path, which reads the attributes again (reads have no side effects)
and reports the error exactly as it always does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import GraphQLLeafType, GraphQLNonNull, GraphQLObjectType, GraphQLString, Undefined, is_leaf_type
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

_UNUSUAL = object()
"""What `_LeafField.value` returns when graphql-core's path must resolve the field instead."""


class _LeafField(NamedTuple):
    read: Callable[[Any, str], Any]
    attribute: str
    type: GraphQLLeafType
    non_null: bool

    def value(self, source: Any, is_awaitable: Callable[[Any], bool]) -> Any:
        try:
            value = self.read(source, self.attribute)
            if value is None:
                return _UNUSUAL if self.non_null else None
            if is_awaitable(value):
                return _UNUSUAL
            coerced = self.type.coerce_output_value(value)
        except Exception:  # noqa: BLE001 - graphql-core's path reports it
            return _UNUSUAL
        return _UNUSUAL if coerced is None or coerced is Undefined else coerced


_LeafFields = tuple[tuple[str, _LeafField], ...]


class LeafFieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Resolves plain leaf fields without graphql-core's per-field bookkeeping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed like graphql-core's own memo of collected fields: by the identity of a field group
        # or field set, kept alive beside its entry so that the id is not reused during execution.
        self._leaves: dict[int, tuple[object, _LeafField | None]] = {}
        self._leaf_sets: dict[int, tuple[object, _LeafFields | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        cached = self._leaf_sets.get(id(grouped_field_set))
        if cached is None:
            cached = (grouped_field_set, self._all_plain_leaves(parent_type, grouped_field_set))
            self._leaf_sets[id(grouped_field_set)] = cached
        leaves = cached[1]
        if leaves is not None:
            results = {}
            for response_name, leaf in leaves:
                value = leaf.value(source_value, self.is_awaitable)
                if value is _UNUSUAL:
                    break
                results[response_name] = value
            else:
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
        leaf = self._plain_leaf(parent_type, field_details_list)
        if leaf is not None:
            value = leaf.value(source, self.is_awaitable)
            if value is not _UNUSUAL:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _all_plain_leaves(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> _LeafFields | None:
        leaves = tuple((name, self._plain_leaf(parent_type, group)) for name, group in fields.items())
        if not leaves or any(leaf is None for _name, leaf in leaves):
            return None
        return leaves  # type: ignore[return-value]  # no None left, checked above

    def _plain_leaf(self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _LeafField | None:
        cached = self._leaves.get(id(field_details_list))
        if cached is None:
            cached = (field_details_list, self._leaf_of(parent_type, field_details_list))
            self._leaves[id(field_details_list)] = cached
        return cached[1]

    def _leaf_of(self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _LeafField | None:
        node = field_details_list[0].node
        if node.name.value == "__typename":
            return _LeafField(_type_name, parent_type.name, GraphQLString, non_null=True)
        field = self.schema.get_field(parent_type, node.name.value)
        if field is None or field.args or node.arguments or field.resolve is None:
            return None
        if not getattr(field.resolve, "_is_default", False):  # not Strawberry's attribute read
            return None
        middleware = self.middleware_manager
        if middleware is not None and middleware.get_field_resolver(field.resolve) is not field.resolve:
            return None  # a middleware wraps it: graphql-core's path runs it
        if isinstance(field.type, GraphQLNonNull):
            named, non_null = field.type.of_type, True
        else:
            named, non_null = field.type, False
        if not is_leaf_type(named):
            return None
        definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        return _LeafField(definition.default_resolver, definition.python_name, named, non_null)


def _type_name(_source: Any, type_name: str) -> str:
    """`__typename` as a leaf: its "attribute" is the name of the type being completed."""
    return type_name
