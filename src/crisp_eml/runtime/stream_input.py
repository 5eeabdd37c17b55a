"""Readers of what ``eml run`` feeds a model: a recording file or a live stream on stdin, as chunks of rows.

A model runs on rows (one reading of every axis, axes interleaved). Files come whole (WAV, Edge Impulse
JSON/CBOR through the ingestion parsers, so values are scaled exactly as ingested training data: WAV samples in
[-1, 1)), or as CSV text read in blocks; stdin is read as it arrives (one ``read1`` at a time, so a live pipe
such as ``arecord ... | eml run`` gives rows as soon as they are written): CSV lines, or raw little-endian
``pcm16`` (scaled by 1/32768 like 16-bit WAV) or ``f32`` samples.

CSV: one reading per line (``n_axes`` numbers; for a library that takes features, also a whole window of
features per line), an optional header line (a ``timestamp``-like first column named in it is dropped), empty
lines skipped. Every refusal names the line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.csv_series import is_number, split_cells
from crisp_eml.runtime.glue import ModelShape

FORMATS = ("csv", "pcm16", "f32")
READ_BYTES = 1 << 16
_TIME_COLUMNS = {"timestamp", "time", "t", "timestamp_ms", "time_ms", "timestamp (ms)", "time (ms)"}


@dataclass
class Chunk:
    """Rows read since the previous chunk and how far into the input they reach (for a progress bar)."""

    rows: np.ndarray  # float32 [n, n_axes]
    done: int         # units of ``InputSource.total`` consumed so far


@dataclass
class InputSource:
    """An opened input: its chunks, the size of the whole (None for a live stream) and what it is."""

    name: str
    chunks: Iterator[Chunk]
    total: int | None


def _check_rate(name: str, rate: float | None, shape: ModelShape, what: str) -> None:
    if not shape.dsp_in_c:
        raise InputError(f"the library takes features (it has no DSP step), not {what}: give its features as a "
                         "CSV file, one window per line", source=name)
    if rate is not None and shape.frequency_hz > 0 and not math.isclose(rate, shape.frequency_hz, rel_tol=1e-6):
        raise InputError(f"{what} sampled at {rate:g} Hz, but the model takes {shape.frequency_hz:g} Hz (resample it "
                         f"first, e.g. sox IN -r {shape.frequency_hz:g} OUT)", source=name)


def _whole(name: str, array: np.ndarray, shape: ModelShape, what: str) -> InputSource:
    data = np.ascontiguousarray(array, dtype=np.float32)
    if data.ndim != 2 or data.shape[1] != shape.n_axes:
        raise InputError(f"{what} with {data.shape[1] if data.ndim == 2 else 1} channel(s)/axes, but the model "
                         f"takes {shape.n_axes}", source=name)
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        raise InputError(f"value at row {int(bad[0][0])}, axis {int(bad[0][1])} is not a finite number", source=name)
    step = 1 << 18

    def chunks() -> Iterator[Chunk]:
        for i in range(0, data.shape[0], step):
            yield Chunk(data[i:i + step], min(data.shape[0], i + step))

    return InputSource(name, chunks(), data.shape[0])


class CsvRows:
    """Incremental CSV parser: feed bytes, get the complete lines' rows; errors name the line number."""

    def __init__(self, name: str, shape: ModelShape) -> None:
        self.name, self.shape = name, shape
        self.widths = {shape.n_axes} | ({shape.raw_len} if not shape.dsp_in_c else set())
        self.lineno = 0
        self.started = False
        self.skip_first = False
        self.width: int | None = None
        self._tail = b""

    def feed(self, data: bytes, final: bool = False) -> np.ndarray:
        text = self._tail + data
        lines = text.split(b"\n")
        self._tail = b"" if final else lines.pop()
        rows: list[list[float]] = []
        for raw in lines:
            self.lineno += 1
            try:
                line = raw.decode("utf-8-sig" if self.lineno == 1 else "utf-8").strip()
            except UnicodeDecodeError as exc:
                raise InputError(f"line {self.lineno}: not UTF-8 text", source=self.name) from exc
            if line:
                rows.extend(self._line(line))
        flat = np.asarray(rows, dtype=np.float32).reshape(-1, self.shape.n_axes)
        return flat

    def _line(self, line: str) -> list[list[float]]:
        cells = split_cells(line)
        if not self.started:
            self.started = True
            if not all(is_number(c) for c in cells):  # a header
                self.skip_first = cells[0].lower() in _TIME_COLUMNS
                width = len(cells) - self.skip_first
                if width not in self.widths:
                    raise InputError(f"line {self.lineno}: the header names {width} column(s), but the model takes "
                                     f"{self._expected()} per line", source=self.name)
                self.width = width
                return []
        if self.skip_first:
            cells = cells[1:]
        if self.width is None:
            if len(cells) not in self.widths:
                raise InputError(f"line {self.lineno}: {len(cells)} value(s), but the model takes {self._expected()} "
                                 "per line", source=self.name)
            self.width = len(cells)
        if len(cells) != self.width:
            raise InputError(f"line {self.lineno}: {len(cells)} value(s), expected {self.width}", source=self.name)
        values = []
        for i, c in enumerate(cells):
            try:
                v = float(c)
            except ValueError:
                raise InputError(f"line {self.lineno}, column {i + 1 + self.skip_first}: {c[:40]!r} is not a number",
                                 source=self.name) from None
            if not math.isfinite(v) or abs(v) > 3.4028234663852886e38:
                raise InputError(f"line {self.lineno}, column {i + 1 + self.skip_first}: {c[:40]!r} is not a finite "
                                 "float32", source=self.name)
            values.append(v)
        return [values[j:j + self.shape.n_axes] for j in range(0, len(values), self.shape.n_axes)]

    def _expected(self) -> str:
        return " or ".join(str(w) for w in sorted(self.widths)) + " value(s)"


class RawRows:
    """Incremental little-endian ``pcm16`` / ``f32`` decoder: bytes in, complete rows out (axes interleaved)."""

    def __init__(self, name: str, fmt: str, shape: ModelShape) -> None:
        self.name, self.fmt, self.shape = name, fmt, shape
        self.width = 2 if fmt == "pcm16" else 4
        self._pending = b""
        self.rows_done = 0

    def feed(self, data: bytes, final: bool = False) -> np.ndarray:
        buf = self._pending + data
        row_bytes = self.width * self.shape.n_axes
        n = len(buf) // row_bytes
        self._pending = buf[n * row_bytes:]
        if final and self._pending:
            raise InputError(f"the {self.fmt} stream ends inside a row ({len(self._pending)} stray byte(s); a row is "
                             f"{self.shape.n_axes} sample(s) of {self.width} bytes)", source=self.name)
        body = buf[:n * row_bytes]
        if self.fmt == "pcm16":
            out = np.frombuffer(body, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        else:
            out = np.frombuffer(body, dtype="<f4").astype(np.float32)
            bad = np.flatnonzero(~np.isfinite(out))
            if bad.size:
                raise InputError(f"sample {self.rows_done * self.shape.n_axes + int(bad[0])} is not a finite "
                                 "number", source=self.name)
        self.rows_done += n
        return out.reshape(n, self.shape.n_axes)


def _incremental(stream: BinaryIO, name: str, decoder: CsvRows | RawRows, total: int | None) -> InputSource:
    read = getattr(stream, "read1", None) or stream.read

    def chunks() -> Iterator[Chunk]:
        done = 0
        while True:
            data = read(READ_BYTES)
            done += len(data)
            rows = decoder.feed(data, final=not data)
            if rows.shape[0] or not data:
                yield Chunk(rows, done)
            if not data:
                return

    return InputSource(name, chunks(), total)


def open_input(path: str, shape: ModelShape, *, fmt: str | None = None, stdin: BinaryIO | None = None
               ) -> InputSource:
    """The input named ``path`` (a file, or ``-`` for ``stdin``) as chunks of rows for the model ``shape``.

    ``fmt`` (csv, pcm16, f32) says how to read stdin or a file without a known extension; a ``.wav``,
    ``.json``, ``.cbor`` or ``.csv`` file is read by its extension."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", field="format")
    if path == "-":
        if stdin is None:
            raise InputError("no stdin to read", field="input")
        if fmt in ("pcm16", "f32"):
            _check_rate("<stdin>", None, shape, f"raw {fmt} samples")
            return _incremental(stdin, "<stdin>", RawRows("<stdin>", fmt, shape), None)
        return _incremental(stdin, "<stdin>", CsvRows("<stdin>", shape), None)
    file = Path(path)
    if not file.is_file():
        raise InputError("no such file", source=str(file))
    suffix = file.suffix.lower()
    if fmt is None and suffix in (".wav", ".wave"):
        from crisp_eml.data.formats.wav import parse_wav

        parsed = parse_wav(file.read_bytes(), str(file))
        _check_rate(str(file), parsed.frequency_hz, shape, "audio")
        return _whole(str(file), parsed.array, shape, "audio")
    if fmt is None and suffix in (".json", ".cbor"):
        from crisp_eml.data.formats.ei_acquisition import parse_ei

        parsed = parse_ei(file.read_bytes(), str(file), cbor=suffix == ".cbor")
        if shape.dsp_in_c:
            _check_rate(str(file), parsed.frequency_hz, shape, "the recording")
        return _whole(str(file), parsed.array, shape, "the recording")
    size = file.stat().st_size
    fh = file.open("rb")
    if fmt in ("pcm16", "f32"):
        _check_rate(str(file), None, shape, f"raw {fmt} samples")
        src = _incremental(fh, str(file), RawRows(str(file), fmt, shape), size)
    elif fmt == "csv" or suffix in (".csv", ".txt", ""):
        src = _incremental(fh, str(file), CsvRows(str(file), shape), size)
    else:
        fh.close()
        raise InputError(f"unsupported file type {suffix!r}: give a .wav, .csv, .json or .cbor file, or --format "
                         "csv|pcm16|f32", source=str(file))
    inner = src.chunks

    def closing() -> Iterator[Chunk]:
        try:
            yield from inner
        finally:
            fh.close()

    src.chunks = closing()
    return src
