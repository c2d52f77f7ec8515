"""The one JSON loader for what a GraphQL request carries as JSON: the body of a JSON POST, the
`operations` and `map` fields of a multipart request, GET's `variables` and `extensions`.

`json.loads` alone turns 5 MB of `[[],[],…]` into ~150 MB of lists, and raises RecursionError
(a plain-text 500 once it escapes Strawberry) on deep nesting. Here a document is refused when
it is over MAX_JSON_BYTES, before it is decoded, or nested deeper than MAX_JSON_DEPTH. A GraphQL
request needs neither: its query is capped at 64 KiB and its variables are flat.
"""

from __future__ import annotations

import json

from imagehost.http.refusals import RequestRefused

MAX_JSON_BYTES = 1024 * 1024
"""Ten 64 KiB queries of a full batch fit, with room for their variables."""
MAX_JSON_DEPTH = 64


def load_json(data: str | bytes) -> object:
    """Decode `data`; json.JSONDecodeError when it is not JSON, RequestRefused when it is too big or deep."""
    if len(data) > MAX_JSON_BYTES:
        raise RequestRefused(
            413, f"The JSON of the request is larger than {MAX_JSON_BYTES // 1024} KiB", "PAYLOAD_TOO_LARGE"
        )
    try:
        value = json.loads(data)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = _deeper_than(value, MAX_JSON_DEPTH, _brackets(data))
    if too_deep:
        message = f"The JSON of the request is nested more than {MAX_JSON_DEPTH} levels deep"
        raise RequestRefused(400, message, "JSON_TOO_DEEP")
    if isinstance(value, list) and not all(isinstance(item, dict) for item in value):
        message = "A JSON array in a GraphQL request must hold only objects (one per operation)"
        raise RequestRefused(400, message, "BAD_REQUEST")
    return value


def _brackets(data: str | bytes) -> int:
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def _deeper_than(value: object, limit: int, brackets: int) -> bool:
    """True when a container in `value` sits more than `limit` containers deep (the top one is 1)."""
    if brackets <= limit or not isinstance(value, (dict, list)):
        return False  # no more opening brackets than levels allowed: no walk needed
    pending: list[tuple[dict[str, object] | list[object], int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                pending.append((child, depth + 1))
    return False
