"""CSV time series: a header naming the sensors, an optional ``timestamp`` (ms) first column.

Follows the Edge Impulse CSV convention: the first row names the columns; a first column called
``timestamp`` (or ``time``/``t``/``timestamp_ms``, milliseconds) gives the sampling interval, otherwise
the caller must pass a frequency. A column header ``accX (m/s2)`` or ``accX [m/s2]`` names the sensor
``accX`` with units ``m/s2``. Values are parsed as float64 and stored as float32; the literal ``nan``
is accepted (the quality checks report it), empty cells and text are not.
"""

from __future__ import annotations

import re

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.parsed import ParsedSample, check_frequency, check_interval_ms, tidy_frequency

TIME_COLUMNS = {"timestamp", "time", "t", "timestamp_ms", "time_ms", "timestamp (ms)", "time (ms)"}
IRREGULAR_TOLERANCE = 0.10  # an interval may deviate from the median by at most 10%
_UNITS = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<u1>[^()]*)\)|\[(?P<u2>[^\[\]]*)\])\s*$")


def split_header(col: str) -> Sensor:
    """``accX (m/s2)`` -> Sensor('accX', 'm/s2'); ``accX`` -> Sensor('accX', None)."""
    m = _UNITS.match(col)
    if m and m.group("name"):
        units = (m.group("u1") if m.group("u1") is not None else m.group("u2") or "").strip()
        return Sensor(m.group("name").strip(), units or None)
    return Sensor(col, None)


def format_header(sensor: Sensor) -> str:
    return f"{sensor.name} ({sensor.units})" if sensor.units else sensor.name


def _cells(line: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(",")]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_csv(data: bytes, name: str, *, frequency_hz: float | None = None) -> ParsedSample:
    """Parse a CSV time series; raises ``InputError`` naming the line and column of any problem."""
    check_frequency(frequency_hz, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=name) from exc
    if "\x00" in text:
        raise InputError("binary data in a CSV file (NUL byte)", source=name)
    ends_with_newline = text.endswith(("\n", "\r"))
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not lines:
        raise InputError("empty file: no header row", source=name)
    header = _cells(lines[0][1])
    if all(_is_number(h) for h in header if h):
        raise InputError("the first row must be a header naming the columns (found numbers)", source=name)
    if any(not h for h in header):
        raise InputError("empty column name in the header row", source=name)
    if len(set(header)) != len(header):
        raise InputError("duplicate column names in the header row", source=name)
    has_time = header[0].lower() in TIME_COLUMNS
    sensors = tuple(split_header(h) for h in (header[1:] if has_time else header))
    if not sensors:
        raise InputError("no value columns besides the timestamp", source=name)
    rows = lines[1:]
    if not rows:
        raise InputError("no data rows after the header", source=name)
    width = len(header)
    table = _fast_table(rows, width)
    if table is None:
        table = _slow_table(rows, width, header, ends_with_newline, name)
    freq = frequency_hz
    if has_time:
        freq = _frequency_from_timestamps(table[:, 0], [ln for ln, _ in rows], name, frequency_hz)
        table = table[:, 1:]
    elif freq is None:
        raise InputError("no timestamp column and no frequency given (pass --frequency HZ)", source=name)
    return ParsedSample(array=table.astype(np.float32), kind="timeseries", sensors=sensors, frequency_hz=freq)


def _fast_table(rows: list[tuple[int, str]], width: int) -> np.ndarray | None:
    """Vectorized parse of a well-formed table; None when anything is off (the slow path then names it)."""
    commas = width - 1
    if any(line.count(",") != commas or '"' in line for _, line in rows):
        return None
    try:
        flat = np.array(",".join(line for _, line in rows).split(","), dtype=np.float64)
    except ValueError:
        return None
    return flat.reshape(len(rows), width)


def _slow_table(
    rows: list[tuple[int, str]], width: int, header: list[str], ends_with_newline: bool, name: str,
) -> np.ndarray:
    flat: list[float] = []
    for k, (lineno, line) in enumerate(rows):
        cells = _cells(line)
        if len(cells) != width:
            if k == len(rows) - 1 and not ends_with_newline and len(cells) < width:
                raise InputError(f"truncated: last line {lineno} has {len(cells)} of {width} fields", source=name)
            raise InputError(f"ragged row at line {lineno}: {len(cells)} fields, header has {width}", source=name)
        for col, cell in enumerate(cells):
            try:
                flat.append(float(cell))
            except ValueError:
                if not cell and k == len(rows) - 1 and not ends_with_newline:
                    raise InputError(f"truncated: last line {lineno} ends with an empty field", source=name) from None
                what = "empty value" if not cell else f"text {cell[:40]!r}"
                raise InputError(f"{what} in numeric column '{header[col]}' at line {lineno}",
                                 source=name) from None
    return np.asarray(flat, dtype=np.float64).reshape(len(rows), width)


def _frequency_from_timestamps(t: np.ndarray, linenos: list[int], name: str, given: float | None) -> float:
    if not np.all(np.isfinite(t)):
        bad = int(np.argmin(np.isfinite(t)))
        raise InputError(f"timestamp is not a finite number at line {linenos[bad]}", source=name, field="timestamp")
    if len(t) < 2:
        if given is None:
            raise InputError("one row cannot give a sampling interval (pass --frequency HZ)", source=name)
        return given
    d = np.diff(t)
    if np.any(d <= 0):
        bad = int(np.argmax(d <= 0)) + 1
        raise InputError(f"timestamps are not strictly increasing at line {linenos[bad]}", source=name,
                         field="timestamp")
    med = float(np.median(d))
    dev = np.abs(d - med)
    if np.any(dev > IRREGULAR_TOLERANCE * med + 1e-9):
        bad = int(np.argmax(dev > IRREGULAR_TOLERANCE * med + 1e-9)) + 1
        raise InputError(f"irregular timestamps: interval {d[bad - 1]:g} ms at line {linenos[bad]} vs median "
                         f"{med:g} ms (tolerance {IRREGULAR_TOLERANCE:.0%})", source=name, field="timestamp")
    interval = check_interval_ms(float(t[-1] - t[0]) / (len(t) - 1), name, "timestamp")
    freq = tidy_frequency(1000.0 / interval)
    if given is not None and abs(given - freq) > IRREGULAR_TOLERANCE * freq:
        raise InputError(f"--frequency {given:g} Hz contradicts the timestamps ({freq:g} Hz)", source=name,
                         field="timestamp")
    return freq


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
