"""The executor's short path for plain data: the same answers as graphql-core's own path."""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from imagehost.schema.execution import PlainDataExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Owner:
    name: str
    since: int


@strawberry.type
class Cat:
    lives: int


@strawberry.type
class Dog:
    good: bool


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    size: int
    ratio: float
    shown: bool
    colour: Colour
    note: str | None
    made: datetime
    tags: list[str]
    scores: list[int | None] | None
    owner: Owner
    pet: Cat | Dog

    @strawberry.field
    def label(self) -> str:
        return f"{self.name}-{self.size}"

    @strawberry.field
    async def later(self) -> int:
        return self.size * 2

    @strawberry.field
    def padded(self, width: int) -> str:
        return self.name.rjust(width, ".")


@strawberry.type
class Box:
    title: str
    items: list[Item]


class Later:
    """An awaitable attribute value; unlike a coroutine, fine to leave unawaited."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:  # the same in every run (`label` formats it)
        return f"later {self.value}"

    def __await__(self) -> Any:
        return asyncio.sleep(0, self.value).__await__()


def item(n: int, **changes: Any) -> Item:
    fields: dict[str, Any] = {
        "id": strawberry.ID(f"i{n}"), "name": f"item{n}", "size": n, "ratio": n / 4, "shown": n % 2 == 0,
        "colour": Colour.RED if n % 2 else Colour.BLUE, "note": None if n % 3 else f"note {n}",
        "made": datetime(2026, 1, 1 + n, tzinfo=UTC), "tags": [f"t{n}", "all"],
        "scores": None if n == 1 else [n, None, 2 * n], "owner": Owner(name=f"o{n}", since=2000 + n),
        "pet": Cat(lives=n) if n % 2 else Dog(good=True),
    }
    fields.update(changes)
    return Item(**fields)


GOOD = [item(n) for n in range(6)]
BAD_VALUES: dict[str, Callable[[], list[Item]]] = {  # made afresh for each run: an iterator is used up
    "null-in-non-null": lambda: [*GOOD[:2], item(2, name=None), *GOOD[3:]],
    "refused-int": lambda: [*GOOD[:4], item(4, size="big"), GOOD[5]],
    "refused-enum": lambda: [item(0, colour="green"), *GOOD[1:]],
    "awaitable-attribute": lambda: [item(0, name=Later("awaited")), *GOOD[1:]],
    "null-in-list": lambda: [item(0, tags=["a", None]), *GOOD[1:]],
    "null-object": lambda: [*GOOD[:5], item(5, owner=None)],
    "tuple-list": lambda: [item(0, tags=("a", "b")), *GOOD[1:]],
    "iterator-list": lambda: [item(0, tags=iter(["a", "b"])), *GOOD[1:]],
    "not-a-list": lambda: [item(0, tags="ab"), *GOOD[1:]],
}


@strawberry.type
class Query:
    case: strawberry.Private[str]

    @strawberry.field
    def box(self) -> Box:
        return Box(title="box", items=BAD_VALUES[self.case]() if self.case in BAD_VALUES else GOOD)


ALL_LEAVES = "id name size ratio shown colour note made"
QUERIES = [
    pytest.param(f"{{ box {{ title items {{ {ALL_LEAVES} }} }} }}", id="all-leaves"),
    pytest.param("{ box { items { a: name b: name size n: note } } }", id="aliases"),
    pytest.param("{ box { items { ...F } } } fragment F on Item { id colour made }", id="fragment"),
    pytest.param("{ box { items { id name @skip(if: true) size @include(if: false) ratio } } }", id="directives"),
    pytest.param("{ box { items { __typename id name } } }", id="typename"),
    pytest.param("{ box { items { id label name } } }", id="with-resolver"),
    pytest.param("{ box { items { id later name } } }", id="with-async-resolver"),
    pytest.param('{ box { items { id padded(width: 9) } } }', id="with-arguments"),
    pytest.param("{ box { items { name tags scores owner { name since } } } }", id="lists-and-objects"),
    pytest.param("{ box { items { owner { ...O } } } } fragment O on Owner { since name }", id="object-fragment"),
    pytest.param("{ box { items { id pet { __typename ... on Cat { lives } ... on Dog { good } } } } }", id="union"),
    pytest.param("{ box { title } box2: box { items { tags } } }", id="aliased-root"),
]


def execute(query: str, case: str, context_class: type[StrawberryGraphQLCoreExecutionContext]) -> Any:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)
    result = asyncio.run(schema.execute(query, root_value=Query(case=case)))
    return result.data, [error.formatted for error in result.errors or []]


@pytest.mark.parametrize("case", ["good", *BAD_VALUES])
@pytest.mark.parametrize("query", QUERIES)
def test_short_path_answers_as_graphql_core_does(query: str, case: str) -> None:
    ours = execute(query, case, PlainDataExecutionContext)
    theirs = execute(query, case, StrawberryGraphQLCoreExecutionContext)
    assert ours == theirs


def test_a_bad_value_is_reported_at_its_place() -> None:
    data, errors = execute("{ box { items { id name } } }", "null-in-non-null", PlainDataExecutionContext)
    assert data is None
    assert [(error["path"], error["message"]) for error in errors] == [
        (["box", "items", 2, "name"], "Cannot return null for non-nullable field Item.name."),
    ]


class CountingContext(PlainDataExecutionContext):
    infos: list[str] = []

    def build_resolve_info(self, field_def: Any, field_nodes: Any, parent_type: Any, path: Any) -> Any:
        CountingContext.infos.append(field_nodes[0].name.value)
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)


@pytest.mark.parametrize(
    ("selection", "through_graphql_core"),
    [
        pytest.param(f"__typename {ALL_LEAVES} tags scores owner {{ name }}", ["box"], id="all-plain"),
        pytest.param(f"{ALL_LEAVES} label", ["box", "items", *["label"] * len(GOOD)], id="one-resolver"),
        pytest.param("id pet { __typename }", ["box", "items", *["pet"] * len(GOOD)], id="union"),
    ],
)
def test_plain_fields_skip_graphql_cores_per_field_path(selection: str, through_graphql_core: list[str]) -> None:
    CountingContext.infos = []
    data, errors = execute(f"{{ box {{ title items {{ {selection} }} }} }}", "good", CountingContext)
    assert not errors
    assert len(data["box"]["items"]) == len(GOOD)
    # Only the fields that are not plain went graphql-core's way (it builds a resolve info for each).
    assert sorted(CountingContext.infos) == sorted(through_graphql_core)
