"""The JSON loader of GraphQL requests: too big, too deep or not objects are typed refusals."""

from __future__ import annotations

import json
import time

import pytest

from imagehost.http.json_body import MAX_JSON_BYTES, MAX_JSON_DEPTH, load_json
from imagehost.http.refusals import RequestRefused


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def refusal(data: str | bytes) -> tuple[int, str]:
    with pytest.raises(RequestRefused) as raised:
        load_json(data)
    return raised.value.status_code, raised.value.code


def test_a_request_decodes_as_json_does() -> None:
    body = {"query": "{ images(first: 2) { edges { node { id } } } }", "variables": {"first": 2, "after": None}}
    assert load_json(json.dumps(body)) == body
    assert load_json(json.dumps([body, body]).encode()) == [body, body]


def test_nesting_up_to_the_limit_decodes_and_one_more_is_refused() -> None:
    at_limit = '{"variables": {"v": ' + nested(MAX_JSON_DEPTH - 2) + "}}"
    assert load_json(at_limit) is not None
    over = '{"variables": {"v": ' + nested(MAX_JSON_DEPTH - 1) + "}}"
    assert refusal(over) == (400, "JSON_TOO_DEEP")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deep_nesting_is_refused_quickly_not_a_recursion_error(depth: int) -> None:
    for data in (nested(depth), '{"a":' * depth + "1" + "}" * depth, nested(depth).encode()):
        started = time.perf_counter()
        assert refusal(data) == (400, "JSON_TOO_DEEP")
        assert time.perf_counter() - started < 0.5


def test_over_one_mib_is_refused_before_decoding() -> None:
    wide = "[" + ",".join(["[]"] * (MAX_JSON_BYTES // 3 + 1)) + "]"
    started = time.perf_counter()
    assert refusal(wide) == (413, "PAYLOAD_TOO_LARGE")
    assert time.perf_counter() - started < 0.05


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    query = "{ " * 200 + "}" * 200
    assert load_json(json.dumps({"query": query})) == {"query": query}


def test_a_batch_must_hold_objects() -> None:
    assert refusal("[1, 2]") == (400, "BAD_REQUEST")
    assert refusal('[{"query": "{ __typename }"}, "x"]') == (400, "BAD_REQUEST")
    assert load_json("[]") == []


def test_not_json_is_left_to_the_caller() -> None:
    with pytest.raises(json.JSONDecodeError):
        load_json('{"query": ')
