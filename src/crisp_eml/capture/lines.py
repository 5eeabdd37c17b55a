"""Bytes to lines to readings, as Edge Impulse's data forwarder reads a board's serial output.

Pure: no I/O. A serial port delivers arbitrary chunks (a line split across reads, garbage at power-up, bytes
that are not text); :class:`LineAssembler` turns them into complete lines, and :func:`parse_reading` decides
whether a line is a reading (numbers separated by comma, tab or spaces) or something else (a boot banner,
a debug message, noise), which the caller skips. :func:`parse_axes` and :func:`default_axes` name the values
(``--axes accX,accY,accZ``, or ``value1``...), the same for every source of lines.
"""

from __future__ import annotations

import math
import re

from crisp_eml.core.errors import InputError

MAX_AXIS_NAME = 64
MAX_LINE_BYTES = 4096  # a longer "line" is noise (no newline for ages): dropped, not buffered for ever

_SEPARATOR = re.compile(r"\s*[,\t;]\s*|\s+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class LineAssembler:
    """Collects bytes and hands back complete lines (without their ``\\n``/``\\r\\n``/``\\r`` ending).

    A partial line is kept until its end arrives; bytes that are not UTF-8 are dropped; a line longer than
    ``max_line`` bytes is discarded up to its end (``dropped`` counts such lines); empty lines are skipped.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.dropped = 0
        self._buffer = bytearray()
        self._overflow = False  # discarding the rest of an over-long line

    def feed(self, data: bytes) -> list[str]:
        lines: list[str] = []
        start = 0
        for index, byte in enumerate(data):
            if byte in (0x0A, 0x0D):  # \n or \r ends a line (a \r\n pair gives one empty line, skipped)
                self._push(data[start:index])
                self._end_line(lines)
                start = index + 1
        self._push(data[start:])
        return lines

    def flush(self) -> list[str]:
        """The last line when the stream ended without a newline."""
        lines: list[str] = []
        self._end_line(lines)
        return lines

    def _push(self, chunk: bytes) -> None:
        if self._overflow or not chunk:
            return
        self._buffer += chunk
        if len(self._buffer) > self.max_line:
            self._buffer.clear()
            self._overflow = True
            self.dropped += 1

    def _end_line(self, lines: list[str]) -> None:
        if not self._overflow:
            text = self._buffer.decode("utf-8", errors="ignore")
            text = "".join(ch for ch in text if ch.isprintable() or ch == "\t").strip()
            if text:
                lines.append(text)
        self._buffer.clear()
        self._overflow = False


def parse_reading(line: str) -> list[float] | None:
    """The values of one reading, or ``None`` when the line is not all finite numbers.

    Values are separated by a comma, a tab, a semicolon or spaces (``"1.5,-2,3e-1"``, ``"1 2 3"``,
    ``"1, 2, 3"``); one trailing separator is tolerated (``Serial.print(x); Serial.print(",")`` loops).
    """
    text = line.strip().rstrip(",;\t ").strip()
    if not text:
        return None
    values: list[float] = []
    for token in _SEPARATOR.split(text):
        if not _NUMBER.fullmatch(token):
            return None
        value = float(token)
        if not math.isfinite(value):
            return None
        values.append(value)
    return values


def default_axes(width: int) -> list[str]:
    """The names of ``width`` values nobody named: ``value1``, ``value2``..."""
    return [f"value{i + 1}" for i in range(width)]


def parse_axes(text: str) -> list[str]:
    """``"accX, accY,accZ"`` -> names; each non-empty, printable, unique, at most 64 characters."""
    names = [n.strip() for n in text.split(",")]
    for n in names:
        if not n:
            raise InputError(f"empty axis name in {text!r} (names are separated by commas)", field="axes")
        if len(n) > MAX_AXIS_NAME or not n.isprintable():
            raise InputError(f"bad axis name {n[:80]!r}: printable, at most {MAX_AXIS_NAME} characters",
                             field="axes")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"axis names must be unique, {', '.join(dup)} repeated", field="axes")
    return names
