"""The cost limits of one document (depth, aliases, tokens, bytes) and the count of images a
request would store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import strawberry
from graphql import get_introspection_query, parse
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from imagehost.schema import build_schema, request_images, upload_fields
from imagehost.schema.build import EXTENSIONS
from imagehost.schema.limits import MAX_ALIASES, MAX_DEPTH, MAX_QUERY_BYTES, MAX_TOKENS
from imagehost.schema.upload_count import stored_images


@strawberry.type
class Node:
    name: str = "n"

    @strawberry.field
    def child(self) -> Node:
        return Node()


@strawberry.type
class Tree:
    @strawberry.field
    def node(self) -> Node:
        return Node()


TREE = strawberry.Schema(query=Tree, extensions=EXTENSIONS)


def execute(query: str, schema: strawberry.Schema = TREE) -> Any:
    return asyncio.run(schema.execute(query))


def codes(result: Any) -> list[str | None]:
    return [(error.extensions or {}).get("code") for error in result.errors or []]


def deep(levels: int) -> str:
    """A query `levels` deep: node, then child inside child, each with a selection."""
    fields = ["node", *["child"] * (levels - 1)]
    return "{ " + " { ".join(fields) + " { name }" + " }" * (levels - 1) + " }"


def bomb(fragments: int, leaf: str) -> str:
    """Each fragment spreads the next one twice: 2**fragments spreads from ~40 bytes each."""
    chain = [f"fragment F{n} on Tree {{ ...F{n + 1} ...F{n + 1} }}" for n in range(fragments - 1)]
    return "{ ...F0 } " + " ".join([*chain, f"fragment F{fragments - 1} on Tree {{ {leaf} }}"])


def test_twelve_levels_run_and_thirteen_are_refused() -> None:
    assert execute(deep(MAX_DEPTH)).errors is None
    refused = execute(deep(MAX_DEPTH + 1))
    assert refused.data is None
    assert codes(refused) == ["QUERY_TOO_DEEP"]
    assert refused.errors[0].message == f"The operation is {MAX_DEPTH + 1} levels deep; at most {MAX_DEPTH} are allowed"


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2])
def test_depth_is_counted_as_strawberrys_query_depth_limiter_counts(levels: int) -> None:
    """The same verdicts as `QueryDepthLimiter(max_depth=12)`, also through fragments."""
    theirs = strawberry.Schema(query=Tree, extensions=[lambda: QueryDepthLimiter(max_depth=MAX_DEPTH)])
    inner = deep(levels).removeprefix("{ node ").removesuffix(" }")
    through_fragments = "{ node { ...A } } fragment A on Node { ... on Node { ...B } } fragment B on Node " + inner
    for query in (deep(levels), through_fragments):
        assert (execute(query).errors is None) == (execute(query, theirs).errors is None), query


def test_graphiqls_introspection_query_passes_and_nested_introspection_is_refused() -> None:
    # GraphiQL 3.8 sends graphql-js's query: 9 levels of `ofType`, 14 levels in all.
    graphiql = get_introspection_query(schema_description=True, input_value_deprecation=True)
    assert graphiql.count("ofType") == 9
    result = execute(graphiql)
    assert result.errors is None and result.data["__schema"]["queryType"]["name"] == "Tree"
    # What makes introspection expensive is lists inside lists; graphql-core's own rule stops it.
    nested = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    refused = execute(nested)
    assert refused.data is None
    assert [error.message for error in refused.errors] == ["Maximum introspection depth exceeded"]


def test_thirty_aliases_run_and_thirty_one_are_refused() -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{n}: node {{ name }}" for n in range(count)) + " }"

    assert execute(aliased(MAX_ALIASES)).errors is None
    refused = execute(aliased(MAX_ALIASES + 1))
    assert refused.data is None
    assert codes(refused) == ["TOO_MANY_ALIASES"]
    assert refused.errors[0].message == f"{MAX_ALIASES + 1} aliases found; at most {MAX_ALIASES} are allowed"


def test_aliases_in_a_fragment_count_once_per_spread_as_strawberry_counts_them() -> None:
    query = "{ node { ...F } x: node { ...F child { ...F } } } fragment F on Node { a: name b: name c: name }"
    theirs = strawberry.Schema(query=Tree, extensions=[lambda: MaxAliasesLimiter(max_alias_count=9)])
    assert [error.message for error in execute(query, theirs).errors] == ["10 aliases found. Allowed: 9"]
    assert execute(query).errors is None  # 10 of our 30


def test_more_than_two_thousand_tokens_are_refused() -> None:
    at_limit = "{ " + " ".join(["node { name }"] * ((MAX_TOKENS - 2) // 4)) + " }"  # 4 tokens each
    # Parsed (graphql-core's validation then gives up on 499 fields to merge, which is fine here).
    assert not any(error.message.startswith("Syntax Error") for error in execute(at_limit).errors or [])
    refused = execute(at_limit.replace("{ node", "{ node { name } node", 1))
    assert refused.data is None
    assert [error.message for error in refused.errors] == [
        f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted."
    ]
    assert [error.extensions for error in refused.errors] == [{"code": "TOO_MANY_TOKENS"}]
    again = execute(at_limit.replace("{ node", "{ node { name } node", 1))  # from the parse cache's path too
    assert [error.extensions for error in again.errors or []] == [{"code": "TOO_MANY_TOKENS"}]


def test_a_query_over_64_kib_is_refused_counted_in_bytes() -> None:
    padding = "# " + "é" * ((MAX_QUERY_BYTES - 40) // 2) + "\n"  # two bytes per character
    fits = padding + "{ node { name } }"
    assert len(fits.encode()) <= MAX_QUERY_BYTES and execute(fits).errors is None
    over = padding + "é" * 20 + "\n{ node { name } }"
    assert len(over) < MAX_QUERY_BYTES < len(over.encode())
    refused = execute(over)
    assert refused.data is None and codes(refused) == ["QUERY_TOO_LARGE"]


def test_a_fragment_bomb_is_measured_in_linear_time() -> None:
    """Strawberry's limiters would visit 2**40 spreads here; ours visit 40 fragments."""
    started = time.perf_counter()
    refused = execute(bomb(40, "a: node { name }"))
    plain = execute(bomb(40, "node { name }"))
    elapsed = time.perf_counter() - started
    assert codes(refused) == ["TOO_MANY_ALIASES"]
    assert refused.errors[0].message.startswith(f"{2**39} aliases found")
    assert plain.errors is None and plain.data == {"node": {"name": "n"}}  # GraphQL merges the spreads
    assert elapsed < 1.0


# ---- images a request would store -----------------------------------------------------------

UPLOADS = upload_fields(build_schema())
ONE = "uploadImage(file: $f) { __typename }"


def count(query: str, variables: dict[str, Any] | None = None, operation: str | None = None) -> int:
    return stored_images(parse(query), operation, variables, UPLOADS)


def test_the_upload_fields_come_from_the_schema() -> None:
    assert {name: [(a.name, a.is_list) for a in arguments] for name, arguments in UPLOADS.items()} == {
        "uploadImage": [("file", False)],
        "uploadImages": [("files", True)],
    }


def test_every_upload_image_field_counts_once_however_it_is_reached() -> None:
    aliased = " ".join(f"a{n}: {ONE}" for n in range(5))
    assert count(f"mutation($f: Upload!) {{ {aliased} }}") == 5
    fragments = (
        f"mutation($f: Upload!) {{ ...A ...A ... on Mutation {{ {ONE} ...A }} }}"
        f" fragment A on Mutation {{ x: {ONE} ...B }} fragment B on Mutation {{ y: {ONE} }}"
    )
    assert count(fragments) == 7  # three spreads of A (2 each) and the inline one
    assert count("mutation($f: Upload!) { uploadImage(file: $f) @skip(if: true) { __typename } }") == 1  # high, never low


def test_upload_images_counts_its_list() -> None:
    many = "mutation($fs: [Upload!]!) { uploadImages(files: $fs) { __typename } }"
    assert count(many, {"fs": ["a", "b", "c"]}) == 3
    assert count(many, {"fs": "one"}) == 1  # GraphQL coerces a single value to a list of one
    assert count(many, {"fs": None}) == 0
    assert count("mutation($a: Upload!) { uploadImages(files: [$a, $a, $a, $a]) { __typename } }") == 4
    assert count("mutation($fs: [Upload!]! = [1, 2]) { uploadImages(files: $fs) { __typename } }") == 2


def test_only_the_operation_that_runs_counts() -> None:
    two = (
        f"mutation A($f: Upload!) {{ a: {ONE} b: {ONE} }} mutation B($f: Upload!) {{ {ONE} }}"
        " query C { images { totalCount } }"
    )
    assert count(two, operation="A") == 2
    assert count(two, operation="B") == 1
    assert count(two, operation="C") == 0
    assert count(two) == 2  # as Strawberry runs it: the first operation
    assert count("{ images { totalCount } }") == 0


def test_a_broken_document_counts_without_failing() -> None:
    assert count(f"mutation($f: Upload!) {{ ...A {ONE} }} fragment A on Mutation {{ ...A {ONE} }}") == 2  # a cycle
    assert count(f"mutation($f: Upload!) {{ ...Missing {ONE} }}") == 1
    assert request_images("mutation { uploadImage(", None, None, UPLOADS) == 0  # not parsed: never runs
    assert request_images(42, None, None, UPLOADS) == 0
    too_large = "# " + "x" * MAX_QUERY_BYTES + f"\nmutation($f: Upload!) {{ {ONE} }}"
    assert request_images(too_large, None, None, UPLOADS) == 0


def test_a_fragment_bomb_of_uploads_is_counted_quickly() -> None:
    chain = " ".join(f"fragment F{n} on Mutation {{ ...F{n + 1} ...F{n + 1} }}" for n in range(49))
    query = f"mutation($f: Upload!) {{ ...F0 }} {chain} fragment F49 on Mutation {{ {ONE} }}"
    started = time.perf_counter()
    assert count(query) == 2**49
    assert time.perf_counter() - started < 0.5
