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

from imagehost.http.multipart import MAX_PART_HEADER_BYTES, MEMORY_PER_FILE, parse_form
from imagehost.http.refusals import RequestRefused
from imagehost.resolvers.filenames import MAX_FILENAME_LENGTH

BOUNDARY = "------------------------boundary1234"
OPERATIONS = ("operations", b'{"query": "x"}', None)
MAP = ("map", b"{}", None)


def body(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, data, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def spec_body(*files: tuple[str, bytes, str | None]) -> bytes:
    """The spec's order: `operations`, `map`, then the files."""
    return body(OPERATIONS, MAP, *files)


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
    form = parse(spec_body(("0", picture, "a.png")), spools)

    assert form["operations"] == '{"query": "x"}' and form["map"] == "{}"
    file = upload(form, "0")
    assert (file.filename, file.size, file.file.read()) == ("a.png", len(picture), picture)
    assert isinstance(file.file, io.BytesIO) and spools.made == []


def test_a_large_file_moves_to_a_spool_file_whole(spools: Spools) -> None:
    picture = bytes(range(251)) * (MEMORY_PER_FILE // 251 * 2 + 7)  # ~2 MiB, not a multiple of a chunk
    form = parse(spec_body(("0", picture, "big.jpg"), ("1", b"small", "small.gif")), spools)

    big, small = upload(form, "0"), upload(form, "1")
    assert [spool.name for spool in spools.made] == [big.file.name]  # type: ignore[attr-defined]
    assert (big.size, big.file.read()) == (len(picture), picture)
    assert (small.size, small.file.read()) == (5, b"small")
    big.file.close()
    assert spools.left() == []


def test_a_file_over_the_limit_is_kept_to_one_byte_past_it(spools: Spools) -> None:
    limit = MEMORY_PER_FILE + 10
    form = parse(spec_body(("0", b"x" * (limit * 3), "huge.png"), ("1", b"y" * limit, "at-limit.png")), spools,
                 max_file_bytes=limit)

    huge, at_limit = upload(form, "0"), upload(form, "1")
    assert huge.size == limit + 1 and len(huge.file.read()) == limit + 1
    assert at_limit.size == limit and at_limit.file.read() == b"y" * limit


def test_too_many_files_is_refused_and_leaves_no_spool_file(spools: Spools) -> None:
    big = b"z" * (MEMORY_PER_FILE * 2)
    with pytest.raises(RequestRefused) as refused:
        parse(spec_body(("0", big, "a.png"), ("1", big, "b.png"), ("2", b"c", "c.png")), spools, max_files=2)

    assert (refused.value.status_code, refused.value.code) == (413, "TOO_MANY_FILES")
    assert len(spools.made) == 2 and spools.left() == []


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        pytest.param(spec_body(("0", b"x", "a.png")), "multipart/form-data", "no boundary", id="no-boundary"),
        pytest.param(b"--" + BOUNDARY.encode() + b"\r\nno headers end", None, "invalid character", id="bad-header"),
        pytest.param(spec_body(("0", b"x" * (3 * MEMORY_PER_FILE), "a.png"))[:2 * MEMORY_PER_FILE], None,
                     "ends before its closing boundary", id="cut-short-in-a-file"),
        pytest.param(f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(), None,
                     "no Content-Disposition \"name\"", id="no-name"),
        pytest.param(body(("operations", b"x" * (1024 * 1024 + 1), None)), None, "larger than 1024 KB", id="huge-field"),
        pytest.param(body(OPERATIONS, MAP, ("0", b"x", "a.png"), OPERATIONS), None,
                     "a second `operations` part", id="second-operations-after-files"),
        pytest.param(body(OPERATIONS, OPERATIONS, MAP), None, "a second `operations` part", id="operations-twice"),
        pytest.param(body(OPERATIONS, MAP, MAP, ("0", b"x", "a.png")), None, "a second `map` part", id="map-twice"),
        pytest.param(body(OPERATIONS, MAP, ("map", b"{}", "map.json")), None, "a second `map` part",
                     id="map-again-as-a-file"),
        pytest.param(body(MAP, OPERATIONS), None, "'map' comes where `operations` must", id="map-first"),
        pytest.param(body(("0", b"x", "a.png"), OPERATIONS, MAP), None, "'0' comes where `operations` must",
                     id="file-first"),
        pytest.param(body(OPERATIONS, ("extra", b"1", None), MAP), None, "'extra' comes where `map` must",
                     id="field-between"),
        pytest.param(spec_body(("0", b"x", "n" * MAX_PART_HEADER_BYTES + ".png")), None, "header size",
                     id="header-line-over-64k"),
    ],
)
def test_unreadable_bodies_are_refused_as_malformed(spools: Spools, data: bytes, content_type: str | None, says: str) -> None:
    kwargs = {"content_type": content_type} if content_type else {}
    with pytest.raises(RequestRefused) as refused:
        parse(data, spools, **kwargs)  # type: ignore[arg-type]
    assert (refused.value.status_code, refused.value.code) == (400, "MALFORMED_MULTIPART")
    assert says in refused.value.message
    assert spools.left() == []


def test_every_part_after_the_map_is_a_file_whatever_its_headers(spools: Spools) -> None:
    # gql streaming a file sends no filename=; the spec does not require one.
    large = bytes(range(256)) * (MEMORY_PER_FILE // 256 * 2)
    typed = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"2\"\r\nContent-Type: text/plain\r\n\r\n"
             "GIF89a\r\n").encode()
    data = spec_body(("0", b"small", None), ("1", large, None)).removesuffix(f"--{BOUNDARY}--\r\n".encode())
    form = parse(data + typed + f"--{BOUNDARY}--\r\n".encode(), spools)

    small, spooled, text_typed = upload(form, "0"), upload(form, "1"), upload(form, "2")
    assert (small.filename, small.size, small.file.read()) == (None, 5, b"small")
    assert (spooled.filename, spooled.size, spooled.file.read()) == (None, len(large), large)
    assert [spool.name for spool in spools.made] == [spooled.file.name]  # type: ignore[attr-defined]
    assert (text_typed.filename, text_typed.file.read()) == (None, b"GIF89a")
    assert form["operations"] == '{"query": "x"}' and form["map"] == "{}"


def test_fields_may_carry_a_filename_and_stay_fields(spools: Spools) -> None:
    # curl -F operations=@ops.json sends the field as a file part: its place makes it `operations`.
    form = parse(body(("operations", b'{"query": "y"}', "ops.json"), ("map", b"{}", "map.json")), spools)
    assert form["operations"] == '{"query": "y"}' and form["map"] == "{}"


def test_a_very_long_file_name_is_shortened_not_refused(spools: Spools) -> None:
    long_name = "holiday-" + "é" * 10_000 + ".png"
    noisy = "\x01n" * 30_000 + ".webp"  # ~60 KB, just under the header line cap
    form = parse(spec_body(("0", b"\x89PNG", long_name), ("1", b"x", "a/b/../c\x01d.gif"), ("2", b"x", noisy)), spools)

    shortened, cleaned, denoised = upload(form, "0"), upload(form, "1"), upload(form, "2")
    assert shortened.filename is not None and len(shortened.filename) == MAX_FILENAME_LENGTH
    assert shortened.filename.startswith("holiday-é") and shortened.filename.endswith("é.png")
    assert cleaned.filename == "cd.gif"
    assert denoised.filename == "n" * (MAX_FILENAME_LENGTH - 5) + ".webp"
