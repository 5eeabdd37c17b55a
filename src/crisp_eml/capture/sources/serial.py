"""A development board on a serial port as an agent source: the serial bridge (``eml capture serial --server``).

A board printing readings over USB serial (Edge Impulse's data forwarder protocol: one line per reading) is
plugged into a laptop; the bridge makes it a remote device of a project's server, so the Studio can record
from it as from a Linux agent. The port is read with :mod:`crisp_eml.capture.serial_port` (the same reader as
the local ``eml capture serial``): lines that are not readings (boot banners, a reset) are skipped, the stream
must settle (a few readings of one width) before rows count, and a board that settles on another number of
values, disconnects or goes silent is a clear error that fails the capture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from crisp_eml.capture.rate import detect_rate
from crisp_eml.capture.serial_port import DEFAULT_BAUD, DeviceGone, Reading, SerialReadings, find_board, open_port
from crisp_eml.capture.sources.base import CHUNK_S, ReadingSource, stack
from crisp_eml.core.errors import InputError

SETTLE_LINES = 3  # consecutive readings of one width that make the stream trusted (as the recorder does)
DETECT_S = 1.0
DETECT_LINES = 10
MAX_WAIT_S = 10.0


class SerialSource(ReadingSource):
    """The board at ``port`` (a device path, or ``auto``: the only USB serial port) read at ``baud``."""

    kind = "timeseries"

    def __init__(self, port: str = "auto", baud: int = DEFAULT_BAUD, *, frequency_hz: float | None = None,
                 axes: Sequence[str] | None = None, name: str = "serial", max_wait_s: float = MAX_WAIT_S) -> None:
        if frequency_hz is not None and not 0 < frequency_hz <= 100_000:
            raise InputError(f"absurd frequency {frequency_hz:g} Hz", field="frequency")
        self.port = port
        self.baud = baud
        self.name = name
        self.max_wait_s = max_wait_s
        super().__init__(frequency_hz=frequency_hz, axes=axes)
        self._readings: SerialReadings | None = None
        self.board: dict[str, Any] = {}
        self.skipped = 0

    def _where(self) -> str:
        return f"serial port {self.port!r}"

    def open(self) -> None:
        if self._readings is not None:
            return
        board = find_board(self.port)
        self.board = {"port": board.port, "board": board.name, **board.info}
        self._readings = SerialReadings(open_port(board.port, self.baud))
        try:
            self._readings.flush()
            self._settle()
            if self.known_frequency() is None:
                self._measured_hz = self._detect()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        readings, self._readings = self._readings, None
        if readings is not None:
            readings.close()

    def _next(self) -> Reading:
        assert self._readings is not None
        return next(self._readings)  # DeviceGone (an InputError) when the board goes away or goes quiet

    def _settle(self) -> int:
        """Skip lines until SETTLE_LINES readings in a row have one width; refuse a width other than the
        board printed before."""
        width, run = 0, 0
        start = time.monotonic()
        while run < SETTLE_LINES:
            r = self._next()
            if r.values is None:
                self.skipped += 1
                run = 0
            elif len(r.values) == width:
                run += 1
            else:
                width, run = len(r.values), 1
            if time.monotonic() - start > self.max_wait_s:
                raise InputError(f"no steady readings in {self.max_wait_s:g} s (check the baud rate and that the "
                                 "board prints numbers separated by commas, one reading per line)",
                                 source=self.port)
        if self._width is not None and width != self._width:
            raise InputError(f"the board now prints {width} values per line, it printed {self._width} "
                             f"({', '.join(self.axes)})", source=self.port)
        self._width = width
        return width

    def _detect(self) -> float:
        stamps: list[float] = []
        while True:
            r = self._next()
            if r.values is None or len(r.values) != self._width:
                self._settle()
                stamps = []
                continue
            stamps.append(r.t)
            span = stamps[-1] - stamps[0]
            if span >= DETECT_S and len(stamps) >= DETECT_LINES:
                return detect_rate(stamps).frequency_hz
            if span > self.max_wait_s:
                raise InputError(f"only {len(stamps)} reading(s) in {span:.1f} s: too few to measure the rate; "
                                 "give the frequency", field="frequency")

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        if self._readings is None:
            self.open()
        width = self._width or 0
        buf: list[list[float]] = []
        got = 0
        due = time.monotonic() + chunk_s
        while got < rows:
            try:
                r = self._next()
            except DeviceGone as exc:
                raise DeviceGone(f"{exc.reason} after {got} of {rows} readings", source=exc.source) from exc
            if r.values is None or len(r.values) != width:
                self.skipped += 1
                self._settle()  # a reset or a cut line: wait for steady readings of the same width again
                continue
            buf.append(r.values)
            got += 1
            if r.t >= due:
                yield stack(buf, width)
                buf, due = [], r.t + chunk_s
        if buf:
            yield stack(buf, width)
