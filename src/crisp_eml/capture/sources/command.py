"""Readings printed by a command: one reading per stdout line, as a board prints them over serial.

The simplest way to bring any sensor on a Linux device into a project: a script that prints
``accX,accY,accZ`` lines (comma, tab or spaces) at a steady rate. The command runs while a capture records
(and once when the agent starts, to check it and learn its value count and, unless given, its rate). Lines
that are not readings (banners, debug prints) are skipped; a changed number of values, or the command
stopping or going silent before the capture is complete, is a clear error.
"""

from __future__ import annotations

import os
import queue
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np

from crisp_eml.capture.lines import LineAssembler, parse_reading
from crisp_eml.capture.rate import detect_rate
from crisp_eml.capture.sources.base import CHUNK_S, ReadingSource, stack, stop_process
from crisp_eml.core.errors import InputError, ToolMissingError

MEASURE_S = 1.0  # how long the rate is measured when it is not given
MEASURE_MIN_LINES = 20
WARM_UP_LINES = 10  # first readings left out of the measurement (a program starting up prints unevenly)
MEASURE_MAX_LINES = 2000  # a command printing this many lines before MEASURE_S passed is not a sensor stream
MAX_HZ = 100_000.0
FIRST_READING_S = 10.0  # a command printing no reading for this long at start is broken
_EOF = object()


class CommandError(InputError):
    """The command failed: it could not start, stopped early, went silent or changed its value count."""


class CommandSource(ReadingSource):
    """``command`` (a shell-like line, split with :func:`shlex.split`; no shell) printing readings."""

    kind = "timeseries"

    def __init__(self, command: str, *, frequency_hz: float | None = None, axes: Sequence[str] | None = None,
                 name: str = "command", stall_s: float = 5.0) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise InputError(f"cannot split the command {command!r}: {exc}", field="source") from exc
        if not self.argv:
            raise InputError("empty command (use cmd:<command line>)", field="source")
        if frequency_hz is not None and not 0 < frequency_hz <= MAX_HZ:
            raise InputError(f"absurd frequency {frequency_hz:g} Hz", field="source")
        self.command = command
        self.name = name
        self.stall_s = stall_s
        super().__init__(frequency_hz=frequency_hz, axes=axes)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending: list[list[float]] = []  # readings taken while measuring the rate, handed out first
        self._thread: threading.Thread | None = None

    def _where(self) -> str:
        return f"command {self.command!r}"

    # -- life cycle -------------------------------------------------------------------------------------------
    def open(self) -> None:
        if self._proc is not None:
            return
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # a Python script's prints arrive as they are made
        try:
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=self._stderr, env=env, bufsize=0)
        except FileNotFoundError as exc:
            self._stderr.close()
            self._stderr = None
            raise ToolMissingError(f"{self._where()}: program {self.argv[0]!r} not found") from exc
        except OSError as exc:
            self._stderr.close()
            self._stderr = None
            raise CommandError(f"cannot run: {exc}", source=self._where()) from exc
        self._queue = queue.Queue()
        self._pending = []
        self._thread = threading.Thread(target=self._pump, args=(self._proc, self._queue), daemon=True,
                                        name=f"eml-cmd-{self.name}")
        self._thread.start()
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        """Wait for the first reading (learning the value count) and, when not known, measure the rate."""
        _, first = self._next(FIRST_READING_S, done=0, wanted=None)
        self._pending.append(first)
        if self.known_frequency() is not None:
            return
        for done in range(1, WARM_UP_LINES):
            self._pending.append(self._next(self.stall_s, done=done, wanted=None)[1])
        stamps: list[float] = []
        while len(stamps) < MEASURE_MAX_LINES and (
                len(stamps) < MEASURE_MIN_LINES or stamps[-1] - stamps[0] < MEASURE_S):
            t, values = self._next(self.stall_s, done=WARM_UP_LINES + len(stamps), wanted=None)
            self._pending.append(values)
            stamps.append(t)
        try:
            hz = detect_rate(stamps).frequency_hz
            if hz > MAX_HZ:
                raise InputError(f"{len(stamps)} readings arrived all at once ({stamps[-1] - stamps[0]:.3f} s)")
        except InputError as exc:
            raise CommandError(f"cannot measure the rate: {exc.reason} (add @HZ to the source)",
                               source=self._where()) from exc
        self._measured_hz = hz

    def close(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._pending = []

    # -- reading ----------------------------------------------------------------------------------------------
    @staticmethod
    def _pump(proc: subprocess.Popen[bytes], out: queue.Queue[Any]) -> None:
        """Reader thread: stdout bytes -> parsed readings on ``out``, then the end marker."""
        assembler = LineAssembler()
        stream = proc.stdout
        assert stream is not None
        try:
            while True:
                data = os.read(stream.fileno(), 65536)
                if not data:
                    break
                now = time.monotonic()
                for line in assembler.feed(data):
                    values = parse_reading(line)
                    if values is not None:
                        out.put((now, values))
            for line in assembler.flush():
                values = parse_reading(line)
                if values is not None:
                    out.put((time.monotonic(), values))
        except (OSError, ValueError):
            pass  # closed under us by close()
        out.put(_EOF)

    def _next(self, timeout_s: float, *, done: int, wanted: int | None) -> tuple[float, list[float]]:
        """The next reading and when it arrived; errors when the command ends, goes silent or changes its value
        count."""
        values = self._take(timeout_s, done=done, wanted=wanted)
        if values is None:
            raise CommandError(f"no reading for {timeout_s:g} s after {done} readings", source=self._where())
        return values

    def _take(self, timeout_s: float, *, done: int, wanted: int | None) -> tuple[float, list[float]] | None:
        """The next reading (arrival time, values) checked against the value count, or None when none came
        within ``timeout_s``."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if item is _EOF:
            raise self._ended(done, wanted)
        t, values = item
        if self._width is None:
            self._width = len(values)
        elif len(values) != self._width:
            raise CommandError(f"reading {done + 1} has {len(values)} values, the stream had {self._width} "
                               f"({', '.join(self.axes)})", source=self._where())
        return t, values

    def _ended(self, done: int, wanted: int | None) -> CommandError:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                code = None
        err = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            err = self._stderr.read()[-600:].decode("utf-8", "replace").strip()
        of = f" of {wanted}" if wanted is not None else ""
        how = f"exited with code {code}" if code is not None else "closed its output"
        tail = f": {err.splitlines()[-1]}" if err else ""
        return CommandError(f"the command {how} after {done}{of} readings{tail}", source=self._where())

    def read(self, rows: int, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
        if self._proc is None:
            self.open()
        stall = max(self.stall_s, 20.0 / self.frequency_hz)
        got = 0
        buf: list[list[float]] = []
        deadline = time.monotonic() + chunk_s
        while got < rows:
            if self._pending:
                values: list[float] | None = self._pending.pop(0)
            elif buf:  # wait only until this chunk is due
                wait = deadline - time.monotonic()
                item = self._take(wait, done=got, wanted=rows) if wait > 0 else None
                if item is None:
                    yield stack(buf, len(buf[0]))
                    buf, deadline = [], time.monotonic() + chunk_s
                    continue
                values = item[1]
            else:
                values = self._next(stall, done=got, wanted=rows)[1]
            assert values is not None
            buf.append(values)
            got += 1
            if time.monotonic() >= deadline:
                yield stack(buf, len(buf[0]))
                buf, deadline = [], time.monotonic() + chunk_s
        if buf:
            yield stack(buf, len(buf[0]))
