"""Receiving uploaded files: request bodies streamed straight into temporary files, within the size limits.

A multipart body is parsed as it arrives (``python-multipart``'s push parser, as Starlette does), and each
file part is written to its own file in a folder the caller owns, named by its position (``00000.csv``),
never by the client's file name, so no name can write outside that folder. A file over the per-file limit,
too many files or fields, or a malformed body stops the reading at once with a clear 413 or 400; the caller
removes the folder, so nothing is left behind. Memory use is one chunk, whatever the size of the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from crisp_eml.data.formats.parsed import SUFFIXES, suffix_of
from crisp_eml.server.errors import ApiError

MAX_FIELDS = 100  # plain (non-file) fields in one multipart body
MAX_FIELD_BYTES = 64 * 1024  # one plain field


@dataclass(frozen=True)
class ReceivedFile:
    field: str  # the multipart field it came in
    filename: str  # as the client gave it: not cleaned, never used as a path
    content_type: str | None
    path: Path
    size: int


@dataclass
class Received:
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _too_big(what: str, limit: int) -> ApiError:
    return ApiError(413, f"{what} is larger than the server's limit of {limit} bytes per file", field="data")


def media_type(value: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    return (value or "").split(";", 1)[0].strip().lower()


class _Multipart:
    """The parser's callbacks: headers per part, file parts to disk, plain fields in memory."""

    def __init__(self, dest: Path, max_files: int, max_file_bytes: int) -> None:
        self.dest, self.max_files, self.max_file_bytes = dest, max_files, max_file_bytes
        self.out = Received()
        self._headers: dict[bytes, bytes] = {}
        self._hname = self._hvalue = b""
        self._name = ""
        self._filename: str | None = None
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._size = 0
        self._data = bytearray()
        self.ended = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self._headers, self._file, self._filename, self._size, self._data = {}, None, None, 0, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._hname.strip().lower()] = self._hvalue.strip()
        self._hname = self._hvalue = b""

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise ApiError(400, "malformed multipart body: a part without 'Content-Disposition: form-data; name=...'")
        self._name = _decode(options[b"name"])
        if b"filename" not in options:
            if len(self.out.fields) >= MAX_FIELDS:
                raise ApiError(400, f"more than {MAX_FIELDS} form fields in one request")
            return
        if len(self.out.files) >= self.max_files:
            raise ApiError(413, f"more than {self.max_files} files in one request", field="data")
        self._filename = _decode(options[b"filename"])
        suffix = suffix_of(self._filename)
        self._path = self.dest / f"{len(self.out.files):05d}{suffix if suffix in SUFFIXES else '.bin'}"
        self._file = self._path.open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._size += end - start
            if self._size > self.max_file_bytes:
                raise _too_big(f"file {self._filename!r}", self.max_file_bytes)
            self._file.write(data[start:end])
        else:
            self._data += data[start:end]
            if len(self._data) > MAX_FIELD_BYTES:
                raise ApiError(400, f"form field {self._name!r} is larger than {MAX_FIELD_BYTES} bytes",
                               field=self._name)

    def on_part_end(self) -> None:
        if self._file is None:
            self.out.fields[self._name] = _decode(bytes(self._data))
            return
        self._file.close()
        assert self._path is not None and self._filename is not None
        ctype = self._headers.get(b"content-type")
        self.out.files.append(ReceivedFile(self._name, self._filename, _decode(ctype) if ctype else None,
                                           self._path, self._size))
        self._file = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def receive_multipart(request: Request, dest: Path, *, max_files: int, max_file_bytes: int) -> Received:
    """Stream a ``multipart/form-data`` body: file parts into ``dest``, plain fields returned as text."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data":
        raise ApiError(415, f"expected a multipart/form-data body, got {_decode(ctype) or 'no content type'!r}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed multipart body: no boundary in the Content-Type header")
    sink = _Multipart(dest, max_files, max_file_bytes)
    callbacks = {name: getattr(sink, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_end")}
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (FormParserError, ValueError) as exc:
        raise ApiError(400, f"malformed multipart body: {str(exc)[:160]}") from exc
    finally:
        sink.close()
    if not sink.ended:
        raise ApiError(400, "malformed multipart body: it ends before its closing boundary")
    return sink.out


async def receive_body(request: Request, path: Path, *, max_bytes: int) -> int:
    """Stream a raw request body into ``path`` (413 past ``max_bytes``); returns its size."""
    size = 0
    with path.open("xb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _too_big("the request body", max_bytes)
            out.write(chunk)
    return size
