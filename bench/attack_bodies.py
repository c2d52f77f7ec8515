"""The request bodies of the `abuse` scenario: GraphQL documents, multipart uploads and images
built to cost the server as much as possible (issue 12). Pure functions of their sizes, so the
quick mode sends the same shapes, smaller.
"""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from collections.abc import Iterator
from itertools import count, islice

from PIL import Image

_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_REST = _FIRST + "0123456789"


def short_aliases(how_many: int) -> list[str]:
    """`how_many` distinct GraphQL names, as short as possible (a, b, ... Z, aa, ab ...)."""

    def names() -> Iterator[str]:
        for length in count(1):
            yield from _names_of_length(length)

    return list(islice(names(), how_many))


def _names_of_length(length: int) -> Iterator[str]:
    if length == 1:
        yield from _FIRST
        return
    for head in _names_of_length(length - 1):
        for tail in _REST:
            yield head + tail


def json_body(query: str, variables: dict[str, object] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}, separators=(",", ":")).encode()


def aliased_typename(fields: int) -> bytes:
    """`{ a:__typename b:__typename ... }`: one cheap field, many times (parse and validate cost)."""
    return json_body("{" + " ".join(f"{alias}:__typename" for alias in short_aliases(fields)) + "}")


def typename_of_size(target_bytes: int) -> bytes:
    """An aliased-`__typename` query of about `target_bytes` bytes."""
    fields = max(1, target_bytes // 15)  # ~15 bytes per `abc:__typename `
    return aliased_typename(fields)


def aliased_images(fields: int, first: int) -> bytes:
    """`images(first: N)` with every leaf, aliased `fields` times: work per alias, not per byte."""
    selection = f"images(first:{first}){{totalCount edges{{cursor node{{id filename contentType size width height url createdAt}}}}}}"
    return json_body("{" + " ".join(f"{alias}:{selection}" for alias in short_aliases(fields)) + "}")


def nested_json(depth: int) -> bytes:
    """A valid GraphQL request whose `variables` hold arrays nested `depth` deep."""
    return (b'{"query":"{__typename}","variables":{"deep":' + b"[" * depth + b"]" * depth + b"}}")


# -- multipart (https://github.com/jaydenseric/graphql-multipart-request-spec) -------------------

_UPLOAD_SELECTION = "{__typename ...on UploadError{code message}}"


def _multipart(operations: str, file_map: str, data: bytes, filename: str, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join([
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{file_map}\r\n'.encode(),
        (f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="{filename}"\r\n'
         f"Content-Type: {content_type}\r\n\r\n").encode(),
        data,
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    return body, f"multipart/form-data; boundary={boundary}"


def upload_mapped_into(fields: int, data: bytes, filename: str = "one.png") -> tuple[bytes, str]:
    """One file part, listed by `map` under `fields` variables, each used by its own aliased
    `uploadImage`: one part on the wire, `fields` images stored if nothing counts them."""
    names = short_aliases(fields)
    definitions = ",".join(f"${name}:Upload!" for name in names)
    selections = " ".join(f"{name}:uploadImage(file:${name}){_UPLOAD_SELECTION}" for name in names)
    operations = json.dumps({"query": f"mutation({definitions}){{{selections}}}",
                             "variables": dict.fromkeys(names)}, separators=(",", ":"))
    file_map = json.dumps({"0": [f"variables.{name}" for name in names]}, separators=(",", ":"))
    return _multipart(operations, file_map, data, filename, "image/png")


def upload_one_variable_into(fields: int, data: bytes, filename: str = "one.png") -> tuple[bytes, str]:
    """One file mapped once, to one variable that `fields` aliased `uploadImage`s all use (the
    selection is only `__typename`: 2,000 fields in ~78 KB)."""
    selections = " ".join(f"{name}:uploadImage(file:$f){{__typename}}" for name in short_aliases(fields))
    operations = json.dumps({"query": f"mutation($f:Upload!){{{selections}}}", "variables": {"f": None}},
                            separators=(",", ":"))
    return _multipart(operations, '{"0":["variables.f"]}', data, filename, "image/png")


def upload_file(data: bytes, filename: str, content_type: str) -> tuple[bytes, str]:
    """A plain one-file `uploadImage` request."""
    operations = json.dumps({"query": f"mutation($f:Upload!){{uploadImage(file:$f){_UPLOAD_SELECTION}}}",
                             "variables": {"f": None}}, separators=(",", ":"))
    return _multipart(operations, '{"0":["variables.f"]}', data, filename, content_type)


# -- images --------------------------------------------------------------------------------------

def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def small_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 30)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


# Empty segments: a length field of 2 (itself) and no payload, 4 bytes each. APP3..APP15 and COM
# carry no meaning a decoder must act on, so the file stays a valid JPEG.
_TINY_JPEG_MARKERS = b"".join(bytes((0xFF, marker, 0x00, 0x02)) for marker in (*range(0xE3, 0xF0), 0xFE))


def marker_jpeg(markers: int) -> bytes:
    """A valid 8x8 JPEG with `markers` empty segments between SOI and the image's own segments."""
    jpeg = small_jpeg()
    cycle = len(_TINY_JPEG_MARKERS) // 4
    filler = _TINY_JPEG_MARKERS * (markers // cycle) + _TINY_JPEG_MARKERS[: 4 * (markers % cycle)]
    return jpeg[:2] + filler + jpeg[2:]


# An empty private, ancillary, safe-to-copy chunk ("prVt"): 12 bytes a decoder must read and skip.
_EMPTY_CHUNK = struct.pack(">I", 0) + b"prVt" + struct.pack(">I", zlib.crc32(b"prVt"))
_PNG_SIGNATURE_AND_IHDR = 8 + 4 + 4 + 13 + 4


def chunk_png(chunks: int) -> bytes:
    """A valid 8x8 PNG with `chunks` empty ancillary chunks between IHDR and the image data."""
    png = small_png()
    head = _PNG_SIGNATURE_AND_IHDR
    return png[:head] + _EMPTY_CHUNK * chunks + png[head:]
