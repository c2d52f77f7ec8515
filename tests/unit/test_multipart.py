"""The multipart parser: where file bytes go (memory, or the store's spool past a threshold),
the per-file cap, and each refusal, fed the way uvicorn delivers a body (in chunks)."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import pytest
from starlette.datastructures import FormData, Headers, UploadFile

from imagehost.http.multipart import MAX_FIELDS, MEMORY_PER_FILE, parse_form
from imagehost.http.refusals import RequestRefused

BOUNDARY = "------------------------boundary1234"


def body(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, data, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


class Spools:
    """The store's spool stand-in: real temporary files in a folder the test can look into."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: list[BinaryIO] = []

    def __call__(self) -> BinaryIO:
        spool = tempfile.NamedTemporaryFile(dir=self.folder, prefix="upload-", suffix=".part")
        self.made.append(spool)  # type: ignore[arg-type]
        return spool  # type: ignore[return-value]

    def left(self) -> list[Path]:
        return sorted(self.folder.iterdir())


def parse(data: bytes, spools: Spools, *, max_file_bytes: int = 10 * MEMORY_PER_FILE, max_files: int = 4,
          content_type: str = f"multipart/form-data; boundary={BOUNDARY}") -> FormData:
    headers = Headers({"content-type": content_type})
    return asyncio.run(parse_form(headers, chunks(data), spools, max_file_bytes=max_file_bytes, max_files=max_files))


@pytest.fixture
def spools(tmp_path: Path) -> Spools:
    return Spools(tmp_path)


def upload(form: FormData, name: str) -> UploadFile:
    value = form[name]
    assert isinstance(value, UploadFile), value
    return value


def test_fields_and_a_small_file_stay_in_memory(spools: Spools) -> None:
    picture = bytes(range(256)) * 400
    form = parse(body(("operations", b'{"query": "x"}', None), ("map", b"{}", None), ("0", picture, "a.png")), spools)

    assert form["operations"] == '{"query": "x"}' and form["map"] == "{}"
    file = upload(form, "0")
    assert (file.filename, file.size, file.file.read()) == ("a.png", len(picture), picture)
    assert isinstance(file.file, io.BytesIO) and spools.made == []


def test_a_large_file_moves_to_a_spool_file_whole(spools: Spools) -> None:
    picture = bytes(range(251)) * (MEMORY_PER_FILE // 251 * 2 + 7)  # ~2 MiB, not a multiple of a chunk
    form = parse(body(("0", picture, "big.jpg"), ("1", b"small", "small.gif")), spools)

    big, small = upload(form, "0"), upload(form, "1")
    assert [spool.name for spool in spools.made] == [big.file.name]  # type: ignore[attr-defined]
    assert (big.size, big.file.read()) == (len(picture), picture)
    assert (small.size, small.file.read()) == (5, b"small")
    big.file.close()
    assert spools.left() == []


def test_a_file_over_the_limit_is_kept_to_one_byte_past_it(spools: Spools) -> None:
    limit = MEMORY_PER_FILE + 10
    form = parse(body(("0", b"x" * (limit * 3), "huge.png"), ("1", b"y" * limit, "at-limit.png")), spools,
                 max_file_bytes=limit)

    huge, at_limit = upload(form, "0"), upload(form, "1")
    assert huge.size == limit + 1 and len(huge.file.read()) == limit + 1
    assert at_limit.size == limit and at_limit.file.read() == b"y" * limit


def test_too_many_files_is_refused_and_leaves_no_spool_file(spools: Spools) -> None:
    big = b"z" * (MEMORY_PER_FILE * 2)
    with pytest.raises(RequestRefused) as refused:
        parse(body(("0", big, "a.png"), ("1", big, "b.png"), ("2", b"c", "c.png")), spools, max_files=2)

    assert (refused.value.status_code, refused.value.code) == (413, "TOO_MANY_FILES")
    assert len(spools.made) == 2 and spools.left() == []


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        pytest.param(body(("0", b"x", "a.png")), "multipart/form-data", "no boundary", id="no-boundary"),
        pytest.param(b"--" + BOUNDARY.encode() + b"\r\nno headers end", None, "invalid character", id="bad-header"),
        pytest.param(body(("0", b"x" * (3 * MEMORY_PER_FILE), "a.png"))[:2 * MEMORY_PER_FILE], None,
                     "ends before its closing boundary", id="cut-short-in-a-file"),
        pytest.param(f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(), None,
                     "no Content-Disposition \"name\"", id="no-name"),
        pytest.param(body(*[(f"f{index}", b"1", None) for index in range(MAX_FIELDS + 1)]), None,
                     f"more than {MAX_FIELDS} non-file fields", id="too-many-fields"),
        pytest.param(body(("operations", b"x" * (1024 * 1024 + 1), None)), None, "larger than 1024 KB", id="huge-field"),
    ],
)
def test_unreadable_bodies_are_refused_as_malformed(spools: Spools, data: bytes, content_type: str | None, says: str) -> None:
    kwargs = {"content_type": content_type} if content_type else {}
    with pytest.raises(RequestRefused) as refused:
        parse(data, spools, **kwargs)  # type: ignore[arg-type]
    assert (refused.value.status_code, refused.value.code) == (400, "MALFORMED_MULTIPART")
    assert says in refused.value.message
    assert spools.left() == []
