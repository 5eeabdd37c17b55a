"""CSV time series: a header naming the sensors, an optional ``timestamp`` (ms) first column.

Follows the Edge Impulse CSV convention: the first row names the columns; a first column called
``timestamp`` (or ``time``/``t``/``timestamp_ms``, milliseconds) gives the sampling interval, otherwise
the caller must pass a frequency. A column header ``accX (m/s2)`` or ``accX [m/s2]`` names the sensor
``accX`` with units ``m/s2``. Values are parsed as float64 and stored as float32; the literal ``nan``
is accepted (a missing value: the quality checks report it); empty cells, text and values that are
infinite as float32 (``inf``, ``1e400``, ``1e39``) are not.

The text is parsed in blocks of about :data:`CHUNK_BYTES` straight into float32 (timestamps stay
float64), so a big file costs its result plus one block, never a Python object per value.
"""

from __future__ import annotations

import bisect
import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.parsed import (
    ByteReader,
    ParsedSample,
    check_axes,
    check_frequency,
    check_interval_ms,
    first_infinite,
    tidy_frequency,
)

TIME_COLUMNS = {"timestamp", "time", "t", "timestamp_ms", "time_ms", "timestamp (ms)", "time (ms)"}
IRREGULAR_TOLERANCE = 0.10  # an interval may deviate from the median by at most 10%
CHUNK_BYTES = 1 << 22  # text parsed per block
_UNITS = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<u1>[^()]*)\)|\[(?P<u2>[^\[\]]*)\])\s*$")
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103  # a float64 at least this large (in magnitude) rounds to float32 inf
_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")  # str.splitlines


def split_header(col: str) -> Sensor:
    """``accX (m/s2)`` -> Sensor('accX', 'm/s2'); ``accX`` -> Sensor('accX', None)."""
    m = _UNITS.match(col)
    if m and m.group("name"):
        units = (m.group("u1") if m.group("u1") is not None else m.group("u2") or "").strip()
        return Sensor(m.group("name").strip(), units or None)
    return Sensor(col, None)


def format_header(sensor: Sensor) -> str:
    return f"{sensor.name} ({sensor.units})" if sensor.units else sensor.name


def split_cells(line: str) -> list[str]:
    """A CSV line's cells, trimmed and unquoted."""
    return [c.strip().strip('"').strip() for c in line.split(",")]


def is_number(text: str) -> bool:
    """Whether a CSV cell reads as a number (a header cell does not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_csv(data: bytes, name: str, *, frequency_hz: float | None = None) -> ParsedSample:
    """Parse a CSV time series; raises ``InputError`` naming the line and column of any problem."""
    return parse_csv_stream(io.BytesIO(data), name, frequency_hz=frequency_hz)


def parse_csv_stream(
    stream: ByteReader, name: str, *, frequency_hz: float | None = None, chunk_bytes: int = CHUNK_BYTES,
) -> ParsedSample:
    """:func:`parse_csv` over a binary stream, read forward in blocks of ``chunk_bytes``."""
    check_frequency(frequency_hz, name)
    table: _Table | None = None
    for first, lines, final, unterminated in _line_blocks(stream, name, chunk_bytes):
        if table is None:
            start = next((i for i, line in enumerate(lines) if line.strip()), None)
            if start is None:
                continue
            table = _Table(lines[start], first + start, name)
            lines, first = lines[start + 1:], first + start + 1
        table.add(_Block.of(lines, first, table), final and unterminated)
    if table is None:
        raise InputError("empty file: no header row", source=name)
    return table.result(frequency_hz)


def _line_blocks(stream: ByteReader, name: str, chunk_bytes: int) -> Iterator[tuple[int, list[str], bool, bool]]:
    """Lines a block at a time: (number of the first line, as ``str.splitlines`` numbers them; the lines;
    is this the final block; the file does not end with a line break). A line is never split across
    blocks (nor a ``\\r\\n`` pair, nor a UTF-8 character)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    tail, lineno, offset, ends_with_break = "", 1, 0, False
    raw = stream.read(chunk_bytes)
    while True:
        nxt = stream.read(chunk_bytes) if raw else b""
        final = not nxt
        pending = len(decoder.getstate()[0])
        try:
            text = tail + decoder.decode(raw, final)
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {max(0, offset - pending + exc.start)})", source=name) from exc
        if "\x00" in text:
            raise InputError("binary data in a CSV file (NUL byte)", source=name)
        offset += len(raw)
        if text:
            ends_with_break = text.endswith(("\n", "\r"))
        parts = text.splitlines()
        tail = ""
        if not final and parts and (text.endswith("\r") or not text.endswith(_BREAKS)):
            tail = parts.pop() + ("\r" if text.endswith("\r") else "")
        yield lineno, parts, final, not ends_with_break
        lineno += len(parts)
        if final:
            return
        raw = nxt


@dataclass
class _Block:
    """The non-blank lines of one block and their line numbers (``first + i`` unless blank lines intervened)."""

    texts: list[str]
    first: int
    numbers: list[int] | None

    @classmethod
    def of(cls, lines: list[str], first: int, table: _Table) -> _Block:
        """Drop blank lines, telling ``table`` where they were (rare: checked in C before any Python loop)."""
        if "" not in lines and not any(map(str.isspace, lines)):
            return cls(lines, first, None)
        blank = [i for i, line in enumerate(lines) if not line or line.isspace()]
        for k, i in enumerate(blank):
            table.blanks.append(table.rows + i - k)
        skip = set(blank)
        keep = [i for i in range(len(lines)) if i not in skip]
        return cls([lines[i] for i in keep], first, [first + i for i in keep])

    def lineno(self, i: int) -> int:
        return self.numbers[i] if self.numbers is not None else self.first + i

    def pairs(self) -> list[tuple[int, str]]:
        return [(self.lineno(i), text) for i, text in enumerate(self.texts)]


class _Table:
    """The rows parsed so far: float32 value blocks, float32 timestamp steps, and where blank lines were."""

    def __init__(self, header_line: str, lineno: int, name: str) -> None:
        header = split_cells(header_line)
        if all(is_number(h) for h in header if h):
            raise InputError("the first row must be a header naming the columns (found numbers)", source=name)
        if any(not h for h in header):
            raise InputError("empty column name in the header row", source=name)
        if len(set(header)) != len(header):
            raise InputError("duplicate column names in the header row", source=name)
        self.has_time = header[0].lower() in TIME_COLUMNS
        self.sensors = tuple(split_header(h) for h in (header[1:] if self.has_time else header))
        if not self.sensors:
            raise InputError("no value columns besides the timestamp", source=name)
        check_axes(len(self.sensors), name, "header", "value columns")
        self.header, self.name, self.first_line = header, name, lineno + 1
        self.values: list[np.ndarray] = []
        self.steps: list[np.ndarray] = []  # timestamp differences (ms), float32 is ample for a 10% tolerance
        self.first_t: float | None = None
        self.nonfinite_line: int | None = None
        self.decreasing_line: int | None = None
        self.last_t: float | None = None
        self.rows = 0
        self.blanks: list[int] = []  # row index following each blank line

    def add(self, block: _Block, unterminated: bool) -> None:
        if not block.texts:
            return
        width = len(self.header)
        table = _fast_table(block.texts, width)
        if table is None:
            table = _slow_table(block.pairs(), width, self.header, unterminated, self.name, self.has_time)
        raw_values = table[:, 1:] if self.has_time else table
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused just below
            values = raw_values.astype(np.float32)
        bad = first_infinite(values)
        if bad is not None:
            r, c = bad
            raise _out_of_range(float(raw_values[r, c]), self.header[c + 1 if self.has_time else c], block.lineno(r),
                                self.name)
        if self.has_time:
            self._add_times(table[:, 0], block)
        self.values.append(values)
        self.rows += len(block.texts)

    def _add_times(self, t: np.ndarray, block: _Block) -> None:
        """Record the steps between timestamps; a bad timestamp is kept for :meth:`result` to raise, after
        every row was read, so the file's first malformed row is what gets reported, as in one block."""
        finite = np.isfinite(t)
        if not finite.all() and self.nonfinite_line is None:
            self.nonfinite_line = block.lineno(int(np.argmin(finite)))
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: already recorded as not finite
            d = np.diff(t, prepend=self.last_t) if self.last_t is not None else np.diff(t)
        shift = 0 if self.last_t is not None else 1  # d[i] ends at row i (or i + 1 in the first block)
        if self.decreasing_line is None and np.any(d <= 0):
            self.decreasing_line = block.lineno(int(np.argmax(d <= 0)) + shift)
        if self.first_t is None:
            self.first_t = float(t[0])
        self.last_t = float(t[-1])
        if self.nonfinite_line is None and self.decreasing_line is None:
            with np.errstate(over="ignore"):  # a step beyond float32 is refused as an absurd interval anyway
                self.steps.append(d.astype(np.float32))

    def lineno(self, row: int) -> int:
        """The file line of data row ``row`` (blank lines are skipped rows)."""
        return self.first_line + row + bisect.bisect_right(self.blanks, row)

    def result(self, frequency_hz: float | None) -> ParsedSample:
        if not self.rows:
            raise InputError("no data rows after the header", source=self.name)
        freq = frequency_hz
        if self.has_time:
            freq = self._frequency(frequency_hz)
        elif freq is None:
            raise InputError("no timestamp column and no frequency given (pass --frequency HZ)", source=self.name)
        return ParsedSample(array=_join(self.values, len(self.sensors)), kind="timeseries", sensors=self.sensors,
                            frequency_hz=freq)

    def _frequency(self, given: float | None) -> float:
        name = self.name
        if self.nonfinite_line is not None:
            raise InputError(f"timestamp is not a finite number at line {self.nonfinite_line}", source=name,
                             field="timestamp")
        if self.decreasing_line is not None:
            raise InputError(f"timestamps are not strictly increasing at line {self.decreasing_line}", source=name,
                             field="timestamp")
        if self.rows < 2 or self.first_t is None or self.last_t is None:
            if given is None:
                raise InputError("one row cannot give a sampling interval (pass --frequency HZ)", source=name)
            return given
        d = _join(self.steps, None)
        med = float(np.median(d))
        limit = IRREGULAR_TOLERANCE * med + 1e-9
        for start in range(0, len(d), 1 << 20):  # bounded temporaries
            with np.errstate(invalid="ignore"):  # inf steps: the interval check below refuses them
                dev = np.abs(d[start:start + (1 << 20)].astype(np.float64) - med) > limit
            if dev.any():
                k = start + int(np.argmax(dev))
                raise InputError(f"irregular timestamps: interval {float(d[k]):g} ms at line {self.lineno(k + 1)} vs "
                                 f"median {med:g} ms (tolerance {IRREGULAR_TOLERANCE:.0%})", source=name,
                                 field="timestamp")
        interval = check_interval_ms((self.last_t - self.first_t) / (self.rows - 1), name, "timestamp")
        freq = tidy_frequency(1000.0 / interval)
        if given is not None and abs(given - freq) > IRREGULAR_TOLERANCE * freq:
            raise InputError(f"--frequency {given:g} Hz contradicts the timestamps ({freq:g} Hz)", source=name,
                             field="timestamp")
        return freq


def _join(pieces: list[np.ndarray], width: int | None) -> np.ndarray:
    """Concatenate float32 blocks into one array, freeing each block once copied (peak: result + one block)."""
    if len(pieces) == 1:
        return pieces.pop()
    total = sum(len(p) for p in pieces)
    out = np.empty((total, width) if width is not None else (total,), dtype=np.float32)
    pos = 0
    while pieces:
        block = pieces.pop(0)
        out[pos:pos + len(block)] = block
        pos += len(block)
    return out


def _fast_table(texts: list[str], width: int) -> np.ndarray | None:
    """Vectorized parse of a well-formed block; None when anything is off (the slow path then names it)."""
    try:
        table = np.loadtxt(texts, delimiter=",", dtype=np.float64, comments=None, quotechar=None, ndmin=2)
    except (ValueError, TypeError, OverflowError):
        return None
    return table if table.shape == (len(texts), width) else None


def _slow_table(
    rows: list[tuple[int, str]], width: int, header: list[str], unterminated: bool, name: str, has_time: bool,
) -> np.ndarray:
    flat: list[float] = []
    for k, (lineno, line) in enumerate(rows):
        cells = split_cells(line)
        if len(cells) != width:
            if k == len(rows) - 1 and unterminated and len(cells) < width:
                raise InputError(f"truncated: last line {lineno} has {len(cells)} of {width} fields", source=name)
            raise InputError(f"ragged row at line {lineno}: {len(cells)} fields, header has {width}", source=name)
        for col, cell in enumerate(cells):
            try:
                v = float(cell)
            except ValueError:
                if not cell and k == len(rows) - 1 and unterminated:
                    raise InputError(f"truncated: last line {lineno} ends with an empty field", source=name) from None
                what = "empty value" if not cell else f"text {cell[:40]!r}"
                raise InputError(f"{what} in numeric column '{header[col]}' at line {lineno}",
                                 source=name) from None
            if abs(v) >= _FLOAT32_OVERFLOW and (col or not has_time):  # the first error in file order wins
                raise _out_of_range(v, header[col], lineno, name)
            flat.append(v)
    return np.asarray(flat, dtype=np.float64).reshape(len(rows), width)


def _out_of_range(value: float, col: str, lineno: int, name: str) -> InputError:
    return InputError(f"value {value:g} out of range in numeric column '{col}' at line {lineno} (values must be "
                      "finite float32 numbers; nan marks a missing value)", source=name, field=col)


def _fmt(v: float) -> str:
    # 9 significant digits always parse back to the same float32 (via float64)
    return format(v, ".9g")


def write_csv(array: np.ndarray, sensors: tuple[Sensor, ...] | list[Sensor], frequency_hz: float) -> bytes:
    """Serialize a float32 ``[length, axes]`` signal with a ``timestamp`` (ms) column; parses back exactly."""
    interval = 1000.0 / frequency_hz
    out = ["timestamp," + ",".join(format_header(s) for s in sensors)]
    for i, row in enumerate(np.asarray(array, dtype=np.float32)):
        out.append(repr(i * interval) + "," + ",".join(_fmt(float(v)) for v in row))
    return ("\n".join(out) + "\n").encode()
