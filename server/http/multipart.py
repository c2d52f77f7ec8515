"""Multipart parsing for GraphQL multipart requests, with our limits, into memory or storage's spool.

python-multipart does the parsing; this module decides where the bytes go. A file part is kept
in memory up to `MEMORY_PER_FILE` (one write of it at storing time, in the store's worker
thread); past that it moves to a spool file the blob store hands out, on the same file system
as the images, so storing it is a hard link rather than a second copy of megabytes. Spool
writes run in a worker thread, one trip per chunk the network delivered, so a slow disk never
stalls the event loop.

The GraphQL multipart request spec fixes the order: `operations`, then `map`, then the files.
The parser holds to it: the first two parts must be those two fields, once each; every part
after them is a file, whatever its headers say (the spec does not require `filename=`, and gql
streaming a file sends none). So a file never reaches a resolver as text, and a second
`operations` or `map` cannot silently replace the first.

Limits: a file stops being stored one byte past the per-file limit (the rest is counted and
dropped, so the resolver reports TOO_LARGE without the file ever being held whole); more files
than allowed is its own refusal; the two fields are small. A part's header lines may be long
(a file name of thousands of characters): the name is shortened, the request still served.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO

from anyio import to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile

from imagehost.http.refusals import RequestRefused
from imagehost.resolvers.filenames import display_filename

FIELDS = ("operations", "map")
"""The spec's fields, in the order they must come, before any file."""
MAX_FIELD_BYTES = 1024 * 1024
MAX_PART_HEADER_BYTES = 64 * 1024
"""The longest header line of a part we read. python-multipart's default, 4 KiB, refused a long
file name, and with it the whole request; the name is shortened instead (display_filename)."""
MEMORY_PER_FILE = 1024 * 1024
"""Bytes of one file held in memory before it moves to a spool file (Starlette's default too)."""

Spool = Callable[[], BinaryIO]


class _Malformed(Exception):
    """The body is not a multipart form we can read; the message says why."""


class _Part:
    __slots__ = ("headers", "name", "is_file", "filename", "chunks", "held", "spool", "received")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.name = ""
        self.is_file = False
        self.filename: str | None = None
        """The client's name for a file, shortened and cleaned (display data); None if it gave none."""
        self.chunks: list[memoryview] = []
        """Views into the network chunks: a file's bytes are copied once, when joined."""
        self.held = 0
        """Bytes kept of this part (a file's stop one past the limit)."""
        self.spool: BinaryIO | None = None
        self.received = 0


class UploadFormParser:
    """Callbacks for python-multipart; `form()` then gives Starlette's FormData of fields and files."""

    def __init__(self, spool: Spool, *, max_file_bytes: int, max_files: int) -> None:
        self.spool = spool
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.parts: list[_Part] = []
        self.to_spool: list[_Part] = []
        """File parts with chunks waiting to be written to their spool file."""
        self.ended = False
        """Whether the closing boundary came: a body cut short must not yield a cut-short file."""
        self._files = 0
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._part.headers.append((bytes(self._header_name).lower(), bytes(self._header_value)))
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        part = self._part
        disposition = next((value for name, value in part.headers if name == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        if b"name" not in options:
            raise _Malformed('a part has no Content-Disposition "name"')
        part.name = _decode(options[b"name"])
        if part.name in (field.name for field in self.parts[:len(FIELDS)]):
            raise _Malformed(f"it has a second `{part.name}` part: `operations` and `map` come once each")
        if len(self.parts) < len(FIELDS):
            expected = FIELDS[len(self.parts)]
            if part.name != expected:
                raise _Malformed(
                    f"the part {part.name[:100]!r} comes where `{expected}` must: the spec's order is "
                    "`operations`, then `map`, then the files"
                )
        else:
            self._files += 1
            if self._files > self.max_files:
                raise RequestRefused(
                    413, f"More than {self.max_files} files in one request: send them in several requests", "TOO_MANY_FILES"
                )
            part.is_file = True
            if b"filename" in options:
                part.filename = display_filename(_decode(options[b"filename"]))
        self.parts.append(part)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.received += end - start
        if not part.is_file:
            if part.received > MAX_FIELD_BYTES:
                raise _Malformed(f"the field {part.name!r} is larger than {MAX_FIELD_BYTES // 1024} KB")
            part.chunks.append(memoryview(data)[start:end])
            return
        room = self.max_file_bytes + 1 - part.held
        if room <= 0:
            return
        chunk = memoryview(data)[start:min(end, start + room)]
        part.chunks.append(chunk)
        part.held += len(chunk)
        if part.held > MEMORY_PER_FILE and (not self.to_spool or self.to_spool[-1] is not part):
            self.to_spool.append(part)

    def on_end(self) -> None:
        self.ended = True

    def write_spools(self) -> None:
        """Move the waiting chunks of large files to their spool files (blocking: run in a thread)."""
        for part in self.to_spool:
            if part.spool is None:
                part.spool = self.spool()
            part.spool.write(b"".join(part.chunks))
            part.chunks.clear()
        self.to_spool.clear()

    def form(self) -> FormData:
        items: list[tuple[str, str | UploadFile]] = []
        for part in self.parts:
            data = b"".join(part.chunks)
            if not part.is_file:
                items.append((part.name, _decode(data)))
                continue
            file = part.spool if part.spool is not None else io.BytesIO(data)
            file.seek(0)
            items.append((part.name, UploadFile(file=file, size=part.held, filename=part.filename, headers=Headers(raw=part.headers))))
        return FormData(items)

    def close(self) -> None:
        for part in self.parts:
            if part.spool is not None:
                part.spool.close()


async def parse_form(
    headers: Headers, stream: AsyncIterator[bytes], spool: Spool, *, max_file_bytes: int, max_files: int
) -> FormData:
    """The form in a multipart body; raises RequestRefused for a body we will not read."""
    _, params = parse_options_header(headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise RequestRefused(400, "The multipart body has no boundary", "MALFORMED_MULTIPART")
    form = UploadFormParser(spool, max_file_bytes=max_file_bytes, max_files=max_files)
    try:
        parser = MultipartParser(boundary, form.callbacks(), max_header_size=MAX_PART_HEADER_BYTES)  # type: ignore[arg-type]
        async for chunk in stream:
            parser.write(chunk)
            if form.to_spool:
                await to_thread.run_sync(form.write_spools)
        parser.finalize()
        if not form.ended:
            raise _Malformed("the body ends before its closing boundary")
        return form.form()
    except BaseException as error:
        form.close()
        if isinstance(error, (_Malformed, FormParserError)):
            raise RequestRefused(400, f"The multipart body could not be read: {error}", "MALFORMED_MULTIPART") from None
        raise


def _decode(raw: bytes | bytearray) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")
