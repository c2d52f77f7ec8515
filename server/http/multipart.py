"""Multipart parsing with our limits, for GraphQL multipart requests.

Starlette's parser streams each file to a SpooledTemporaryFile but caps neither a file's size
nor tells "too many files" apart from other errors. This subclass stops storing a file's bytes
one byte past the per-file limit (the rest is counted and dropped, so the resolver reports
TOO_LARGE without the file ever being held whole), and refuses extra files with their own code.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.datastructures import FormData, Headers
from starlette.formparsers import MultiPartException, MultiPartParser

from imagehost.http.refusals import RequestRefused

MAX_FIELDS = 16
MAX_FIELD_BYTES = 1024 * 1024


class CappedMultiPartParser(MultiPartParser):
    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_file_bytes: int,
        max_files: int,
    ) -> None:
        super().__init__(
            headers, stream, max_files=float("inf"), max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
        self.max_file_bytes = max_file_bytes
        self.max_file_count = max_files
        self._file_count = 0
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None:
            self._file_count += 1
            if self._file_count > self.max_file_count:
                raise RequestRefused(
                    413,
                    f"More than {self.max_file_count} files in one request: send them in several requests",
                    "TOO_MANY_FILES",
                )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is None:
            super().on_part_data(data, start, end)
            return
        room = self.max_file_bytes + 1 - self._file_bytes
        self._file_bytes += end - start
        if room > 0:
            super().on_part_data(data, start, min(end, start + room))


async def parse_form(headers: Headers, stream: AsyncGenerator[bytes, None], *, max_file_bytes: int, max_files: int) -> FormData:
    parser = CappedMultiPartParser(headers, stream, max_file_bytes=max_file_bytes, max_files=max_files)
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise RequestRefused(400, f"The multipart body could not be read: {error}", "MALFORMED_MULTIPART") from None
    except KeyError:
        # parse() looks up the boundary parameter without guarding every path.
        raise RequestRefused(400, "The multipart body has no boundary", "MALFORMED_MULTIPART") from None
