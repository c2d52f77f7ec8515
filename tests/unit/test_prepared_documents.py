"""The schema's short path for documents it has seen: the same answers as Strawberry's own path."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import strawberry

from imagehost.resolvers.context import Context
from imagehost.resolvers.limits import UploadLimits
from imagehost.schema import build_schema
from imagehost.schema.build import _prepared
from imagehost.storage import open_image_store

CASES = [
    pytest.param("{ images(first: 2) { totalCount edges { node { id } } } }", None, None, id="data"),
    pytest.param("{ images(first: 0) { totalCount } }", None, None, id="resolver-error"),
    pytest.param("query($n: Int!) { images(first: $n) { totalCount } }", {}, None, id="missing-variable"),
    pytest.param("query($n: Int!) { images(first: $n) { totalCount } }", {"n": "two"}, None, id="wrong-variable"),
    pytest.param("query A { uploadLimits { maxFiles } } query B { images { totalCount } }", None, "B", id="named"),
    pytest.param("query A { uploadLimits { maxFiles } } query B { images { totalCount } }", None, None, id="unnamed"),
    pytest.param("{ nope }", None, None, id="invalid"),
    pytest.param("{ images { ", None, None, id="syntax"),
]


def answer(result: Any) -> tuple[Any, list[dict[str, Any]]]:
    return result.data, [error.formatted for error in result.errors or []]


@pytest.mark.parametrize(("query", "variables", "operation"), CASES)
def test_short_path_answers_as_strawberry_does(tmp_path: Path, query: str, variables: Any, operation: str | None) -> None:
    schema = build_schema()
    store = open_image_store(tmp_path / "images")
    context = Context(images=store, limits=UploadLimits(1000, 1000, 4), base_url="http://img.test", client="test")

    async def both() -> tuple[Any, Any, Any]:
        theirs = await strawberry.Schema.execute(schema, query, variables, context, None, operation)
        first = await schema.execute(query, variables, context, None, operation)
        again = await schema.execute(query, variables, context, None, operation)
        return theirs, first, again

    try:
        theirs, first, again = asyncio.run(both())
    finally:
        store.close()
    assert answer(first) == answer(theirs)
    assert answer(again) == answer(theirs)


def test_a_repeated_document_is_parsed_and_validated_once(tmp_path: Path) -> None:
    schema = build_schema()
    store = open_image_store(tmp_path / "images")
    context = Context(images=store, limits=UploadLimits(1000, 1000, 4), base_url="http://img.test", client="test")
    query = "{ uploadLimits { maxFiles maxPixels } }"
    before = _prepared.cache_info()
    try:
        results = asyncio.run(_run_times(schema, query, context, 5))
    finally:
        store.close()
    after = _prepared.cache_info()
    assert all(result.data == {"uploadLimits": {"maxFiles": 4, "maxPixels": 1000}} for result in results)
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 4)


async def _run_times(schema: strawberry.Schema, query: str, context: Context, times: int) -> list[Any]:
    return [await schema.execute(query, context_value=context) for _ in range(times)]
