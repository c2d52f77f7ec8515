"""What one GraphQL document may cost, as Strawberry extensions and validation rules.

The contract's limits ("Abuse of GraphQL itself"): at most 12 levels deep, 30 aliases and 2,000
tokens; and, ours, 64 KiB of query text, checked before the text is parsed. Every request goes
through them, whether its document is cached or not: the parse and validation caches key on
the parse options and on the rule classes, and these rule classes are made once (at import), so
a cached verdict is the verdict of the same rules.

Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` walk every fragment spread anew: 20
fragments that each spread the next one twice (under 800 bytes) cost them 3 s of CPU here, and
each fragment more doubles it. The two rules here count the same way but visit each fragment
once. Like `QueryDepthLimiter`, the depth leaves out introspection (`__schema`,
`__type`): GraphiQL's schema query is 14 levels deep, and graphql-core's own
`MaxIntrospectionDepthRule` (one of its specified rules) already bounds what nested
introspection can cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension

MAX_DEPTH = 12
"""Levels of selections below a root field, introspection aside (as `QueryDepthLimiter` counts)."""
MAX_ALIASES = 30
"""Aliased fields in a document, fragments counted where they are spread."""
MAX_TOKENS = 2000
"""Lexical tokens of a document (graphql-core's parser stops at the next one)."""
MAX_QUERY_BYTES = 64 * 1024
"""UTF-8 bytes of query text; the UI's largest document is under 1 KiB."""
CACHED_DOCUMENTS = 256
"""Parsed documents (and validation verdicts) kept per cache: at most 16 MiB of query text."""


def query_too_large(query: str) -> bool:
    """True when `query` is over MAX_QUERY_BYTES as UTF-8 (no encoding for short texts)."""
    if len(query) > MAX_QUERY_BYTES:
        return True
    # A character is at most 4 bytes: only a text that could be over the cap is encoded.
    return len(query) * 4 > MAX_QUERY_BYTES and len(query.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES


class QuerySizeLimit(SchemaExtension):
    """Refuses a query over MAX_QUERY_BYTES before it is parsed.

    It must come before `ParserCache` in the schema's extensions: hooks of one stage run in the
    order given, and ParserCache parses in its `on_parse`.
    """

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query is not None and query_too_large(query):
            raise GraphQLError(
                f"The query is larger than {MAX_QUERY_BYTES // 1024} KiB; send a smaller document",
                extensions={"code": "QUERY_TOO_LARGE"},
            )
        yield


class TokenLimit(MaxTokensLimiter):
    """Strawberry's token limit (it sets the parser's `max_tokens`, which ParserCache keys on),
    with an `extensions.code` on its refusal, which graphql-core reports as a bare syntax error.

    The refusal reaches this hook two ways: raised through it (ParserCache parses inside an
    extension hook, so the error escapes the parsing stage) or as a pre-execution error.
    """

    def __init__(self) -> None:
        super().__init__(max_token_count=MAX_TOKENS)

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_token_count
        try:
            yield
        except GraphQLSyntaxError as raised:
            self._mark(raised)
            raise
        for reported in self.execution_context.pre_execution_errors or ():
            self._mark(reported)

    def _mark(self, error: GraphQLError) -> None:
        if isinstance(error, GraphQLSyntaxError) and f"more than {self.max_token_count} tokens" in error.message:
            error.extensions = {**(error.extensions or {}), "code": "TOO_MANY_TOKENS"}

Selections = SelectionSetNode | None
Fragments = Mapping[str, FragmentDefinitionNode]


class _FragmentMemo:
    """A per-document measure of fragments: each fragment is measured once, cycles count 0."""

    def __init__(self, fragments: Fragments, measure: Callable[[Selections], int]) -> None:
        self._fragments = fragments
        self._measure = measure
        self._known: dict[str, int] = {}
        self._in_progress: set[str] = set()

    def __call__(self, name: str) -> int:
        known = self._known.get(name)
        if known is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._in_progress:
            return 0  # unknown fragments and cycles are reported by graphql-core's own rules
        self._in_progress.add(name)
        try:
            value = self._measure(fragment.selection_set)
        finally:
            self._in_progress.discard(name)
        self._known[name] = value
        return value


def _fragments_of(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in context.document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _operations_of(context: ValidationContext) -> list[OperationDefinitionNode]:
    definitions = context.document.definitions
    return [definition for definition in definitions if isinstance(definition, OperationDefinitionNode)]


def selection_depth(selections: Selections, fragments: Fragments) -> int:
    """Levels of selection sets below the fields of `selections` (leaves and introspection: 0)."""
    memo: _FragmentMemo

    def depth(node: Selections) -> int:
        deepest = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                counted = selection.selection_set and not selection.name.value.startswith("__")
                below = 1 + depth(selection.selection_set) if counted else 0
            elif isinstance(selection, InlineFragmentNode):
                below = depth(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                below = memo(selection.name.value)
            else:
                below = 0
            deepest = max(deepest, below)
        return deepest

    memo = _FragmentMemo(fragments, depth)
    return depth(selections)


def alias_count(selections: Selections, fragments: Fragments) -> int:
    """Aliased fields in `selections`, each fragment counted once per spread."""
    memo: _FragmentMemo

    def count(node: Selections) -> int:
        total = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                total += (selection.alias is not None) + count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += memo(selection.name.value)
        return total

    memo = _FragmentMemo(fragments, count)
    return count(selections)


class DepthLimit(ValidationRule):
    """Refuses an operation nested more than MAX_DEPTH levels below its root fields."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        fragments = _fragments_of(context)
        for operation in _operations_of(context):
            depth = selection_depth(operation.selection_set, fragments)
            if depth > MAX_DEPTH:
                name = f"'{operation.name.value}'" if operation.name else "The operation"
                self.report_error(
                    GraphQLError(
                        f"{name} is {depth} levels deep; at most {MAX_DEPTH} are allowed",
                        operation,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )


class AliasLimit(ValidationRule):
    """Refuses a document with more than MAX_ALIASES aliased fields (over all its operations)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        fragments = _fragments_of(context)
        operations = _operations_of(context)
        total = sum(alias_count(operation.selection_set, fragments) for operation in operations)
        if total > MAX_ALIASES:
            self.report_error(
                GraphQLError(
                    f"{total} aliases found; at most {MAX_ALIASES} are allowed",
                    extensions={"code": "TOO_MANY_ALIASES"},
                )
            )


COST_RULES: tuple[type[ValidationRule], ...] = (DepthLimit, AliasLimit)


class CostRules(AddValidationRules):
    """Adds the depth and alias rules to every operation (in `on_operation`, before validation)."""

    def __init__(self) -> None:
        super().__init__(list(COST_RULES))
