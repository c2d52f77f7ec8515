"""Every request takes Strawberry's full path: extensions and validation rules run on a cached
document as on a new one, and the caches cannot let a document skip a limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import AddValidationRules, ParserCache, SchemaExtension

from imagehost.resolvers.context import Context
from imagehost.resolvers.limits import UploadLimits
from imagehost.schema import build_schema
from imagehost.schema.build import EXTENSIONS
from imagehost.schema.limits import CACHED_DOCUMENTS, MAX_TOKENS, QuerySizeLimit
from imagehost.schema.operations import Mutation, Query
from imagehost.storage import open_image_store

ALLOWED = "query Limits { uploadLimits { maxFiles maxPixels } }"
FORBIDDEN = "query Secret { uploadLimits { maxUploadBytes } }"


class Recorder(SchemaExtension):
    """Writes down each lifecycle hook it was called for, and the document it saw."""

    calls: ClassVar[list[str]] = []
    documents: ClassVar[list[Any]] = []

    def on_operation(self) -> Iterator[None]:
        self.calls.append("operation")
        yield

    def on_parse(self) -> Iterator[None]:
        self.calls.append("parse")
        yield
        self.documents.append(self.execution_context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        self.calls.append("validate")
        yield

    def on_execute(self) -> Iterator[None]:
        self.calls.append("execute")
        yield


class NoMaxUploadBytes(ValidationRule):
    """A rule added by a test: refuses the field `maxUploadBytes`; counts how often it runs."""

    runs: ClassVar[int] = 0

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        type(self).runs += 1

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value == "maxUploadBytes":
            self.report_error(GraphQLError("maxUploadBytes is off limits", node))


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Context]:
    store = open_image_store(tmp_path / "images")
    yield Context(images=store, limits=UploadLimits(1000, 1000, 4), base_url="http://img.test", client="test")
    store.close()


@pytest.fixture(autouse=True)
def fresh_records() -> None:
    Recorder.calls.clear()
    Recorder.documents.clear()
    NoMaxUploadBytes.runs = 0


def run(schema: strawberry.Schema, context: Context, *queries: str) -> list[Any]:
    async def all_of_them() -> list[Any]:
        return [await schema.execute(query, context_value=context) for query in queries]

    return asyncio.run(all_of_them())


def messages(result: Any) -> list[str]:
    return [error.message for error in result.errors or []]


def test_an_added_extension_and_rule_run_on_every_sighting_of_a_document(context: Context) -> None:
    schema = build_schema([Recorder, partial(AddValidationRules, [NoMaxUploadBytes])])
    allowed = run(schema, context, ALLOWED, ALLOWED, ALLOWED)
    forbidden = run(schema, context, FORBIDDEN, FORBIDDEN, FORBIDDEN)

    assert [result.data for result in allowed] == [{"uploadLimits": {"maxFiles": 4, "maxPixels": 1000}}] * 3
    assert [(result.data, messages(result)) for result in forbidden] == [(None, ["maxUploadBytes is off limits"])] * 3
    # Every hook ran on the first, second and third sighting; a refused document never executes.
    assert Recorder.calls == ["operation", "parse", "validate", "execute"] * 3 + ["operation", "parse", "validate"] * 3


def test_a_repeated_document_is_parsed_and_validated_once(context: Context) -> None:
    schema = build_schema([Recorder, partial(AddValidationRules, [NoMaxUploadBytes])])
    run(schema, context, ALLOWED, ALLOWED, ALLOWED, ALLOWED)
    first, *others = Recorder.documents
    assert all(document is first for document in others)  # ParserCache's document, every time
    assert NoMaxUploadBytes.runs == 1  # ValidationCache's verdict of the same rules, every time


def test_a_cached_verdict_is_never_that_of_other_rules(context: Context) -> None:
    """The validation cache keys on the rule classes: a document that passed without a rule is
    checked again by a schema that has it, even though both share one cache."""
    plain = build_schema()
    with_rule = build_schema([partial(AddValidationRules, [NoMaxUploadBytes])])
    [before] = run(plain, context, FORBIDDEN)
    [after] = run(with_rule, context, FORBIDDEN)
    assert before.data == {"uploadLimits": {"maxUploadBytes": 1000}}
    assert messages(after) == ["maxUploadBytes is off limits"]


def test_a_document_parsed_without_the_token_limit_is_not_reused_by_our_schema(context: Context) -> None:
    """ParserCache's cache is shared by every schema with the same maxsize, and keyed on the
    parse options; our token limit is one of them, so a document another schema parsed without
    it is parsed again, and refused, by ours."""
    aliased = [f"a{n}: uploadLimits {{ maxFiles }}" for n in range(MAX_TOKENS // 6 + 1)]  # 6 tokens each
    too_many_tokens = "{ " + " ".join(aliased) + " }"
    shared_cache = partial(ParserCache, maxsize=CACHED_DOCUMENTS)
    unlimited = strawberry.Schema(query=Query, mutation=Mutation, extensions=[shared_cache])
    [theirs] = run(unlimited, context, too_many_tokens)
    [ours] = run(build_schema(), context, too_many_tokens)
    assert theirs.errors is None and theirs.data is not None and theirs.data["a0"] == {"maxFiles": 4}
    assert ours.data is None
    assert messages(ours) == [f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted."]


def test_a_large_query_is_refused_before_it_is_parsed(context: Context) -> None:
    # One comment is one token: only the byte cap stops this text.
    large = "# " + "x" * 70_000 + "\n{ __typename }"
    schema = build_schema([Recorder])
    results = run(schema, context, large, large)
    for result in results:
        assert result.data is None
        [error] = result.errors
        assert error.extensions == {"code": "QUERY_TOO_LARGE"}
    assert Recorder.documents == []  # no extension ever saw a parsed document
    assert "execute" not in Recorder.calls


def test_the_size_check_must_come_before_the_parser_cache(context: Context) -> None:
    """Hooks of one stage run in the order given: after ParserCache, the parser sees the text first."""
    large_and_broken = "{ __typename " + "# " + "x" * 70_000
    ours = build_schema()
    reversed_order = strawberry.Schema(query=Query, extensions=[partial(ParserCache, maxsize=8), QuerySizeLimit])
    [refused_early] = run(ours, context, large_and_broken)
    [parsed_first] = run(reversed_order, context, large_and_broken)
    assert refused_early.errors[0].extensions == {"code": "QUERY_TOO_LARGE"}
    assert parsed_first.errors[0].message.startswith("Syntax Error")
    assert EXTENSIONS.index(QuerySizeLimit) == 0


def test_request_errors_are_logged_on_every_sighting(context: Context, caplog: pytest.LogCaptureFixture) -> None:
    schema = build_schema()
    with caplog.at_level(logging.INFO, logger="imagehost.graphql"):
        run(schema, context, "{ nope }", "{ nope }", "{ images(first: 0) { totalCount } }")
    lines = [record.getMessage() for record in caplog.records if record.name == "imagehost.graphql"]
    assert lines[:2] == ["graphql request error: Cannot query field 'nope' on type 'Query'."] * 2
    assert lines[2].startswith("graphql request error: ") and "first" in lines[2]
