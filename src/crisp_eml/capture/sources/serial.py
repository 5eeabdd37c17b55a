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

from crisp_eml.capture.recorder import MAX_WAIT_S, Skipped, measure_rate, next_reading, settle
from crisp_eml.capture.serial_port import DEFAULT_BAUD, DeviceGone, SerialReadings, find_board, open_port
from crisp_eml.capture.sources.base import CHUNK_S, ReadingSource, stack
from crisp_eml.core.errors import InputError


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
        self.skip = Skipped()

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

    def _stream(self) -> SerialReadings:
        assert self._readings is not None
        return self._readings  # DeviceGone (an InputError) when the board goes away or goes quiet

    def _settle(self) -> int:
        """Skip lines until the board prints steady readings; a width other than it printed before is refused."""
        try:
            self._width = settle(self._stream(), self._width, self.skip, max_wait_s=self.max_wait_s,
                                 axes=self.axes if self._width is not None else None)
        except DeviceGone:
            raise
        except InputError as exc:  # named by its port: the agent reports it as the capture's failure
            raise InputError(exc.reason, source=self.port) from exc
        return self._width

    def _detect(self) -> float:
        assert self._width is not None
        return measure_rate(self._stream(), self._width, self.skip, max_wait_s=self.max_wait_s).frequency_hz

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        if self._readings is None:
            self.open()
        width = self._width or 0
        buf: list[list[float]] = []
        got = 0
        due = time.monotonic() + chunk_s
        while got < rows:
            try:
                r = next_reading(self._stream())
            except DeviceGone as exc:
                raise DeviceGone(f"{exc.reason} after {got} of {rows} readings", source=exc.source) from exc
            if r.values is None or len(r.values) != width:
                self.skip.odd(r)
                self._settle()  # a reset or a cut line: wait for steady readings of the same width again
                continue
            buf.append(r.values)
            got += 1
            if r.t >= due:
                yield stack(buf, width)
                buf, due = [], r.t + chunk_s
        if buf:
            yield stack(buf, width)
