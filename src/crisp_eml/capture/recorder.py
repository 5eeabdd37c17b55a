"""Cut a stream of readings into samples of an exact number of rows, as a data forwarder records them.

Pure logic over any iterator of :class:`~crisp_eml.capture.serial_port.Reading` (a serial port, a command's
output, a test's list), so the local ``eml capture serial``, the serial bridge and the tests share it. The
stream is trusted only once it settles (a few consecutive readings with the same number of values): lines
before that are start-up garbage or a boot banner and are skipped. The rate is then measured (unless given),
the axes named, and ``samples`` samples of ``rows`` rows recorded back to back. Mid-stream, a line that is not
a reading (a board reset prints its banner again) restarts the sample in progress once the readings resume,
so no sample spans a gap; a board that settles on a different number of values is an error naming the change.
When the stream ends early the samples recorded so far are dropped, or returned with ``keep_partial``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from crisp_eml.capture.lines import default_axes
from crisp_eml.capture.rate import DriftMonitor, RateEstimate, detect_rate
from crisp_eml.capture.serial_port import DeviceGone, Reading
from crisp_eml.core.errors import InputError

SETTLE_LINES = 3  # consecutive readings of one width that make a stream trusted
DETECT_S = 1.0  # how long the rate is measured (at least DETECT_LINES lines)
DETECT_LINES = 10
MAX_WAIT_S = 10.0  # of stream time without settling (or measuring a rate) before giving up
MAX_RESYNCS = 20  # samples restarted by odd lines, before the board is declared too noisy


@dataclass
class RecordedSample:
    rows: list[list[float]]
    partial: bool = False  # cut short by a disconnect (kept with keep_partial)


@dataclass
class Recording:
    """What a recording produced; ``ended`` says why the stream ended early (samples then hold what was kept)."""

    width: int
    axes: list[str]
    frequency_hz: float
    rows_per_sample: int
    rate: RateEstimate | None  # None when the rate was given
    samples: list[RecordedSample] = field(default_factory=list)
    skipped_lines: int = 0
    resyncs: int = 0
    warnings: list[str] = field(default_factory=list)
    ended: str | None = None

    @property
    def complete(self) -> list[RecordedSample]:
        return [s for s in self.samples if not s.partial]


@dataclass
class Skipped:
    """Lines that were not readings of the stream's width: how many, and the last odd one (for messages)."""

    count: int = 0
    last: str = ""

    def odd(self, r: Reading) -> None:
        self.count += 1
        self.last = r.line[:80]


def next_reading(it: Iterator[Reading]) -> Reading:
    """The next reading; the end of the stream is a :class:`DeviceGone`."""
    try:
        return next(it)
    except StopIteration:
        raise DeviceGone("the stream of readings ended") from None


def settle(it: Iterator[Reading], expected: int | None, skipped: Skipped, *, max_wait_s: float = MAX_WAIT_S,
           axes: list[str] | None = None) -> int:
    """Skip lines until SETTLE_LINES consecutive readings have one width; that width. Settling on a width other
    than ``expected`` is an error naming both (and ``axes``); so is no steady run within ``max_wait_s`` of
    stream time."""
    run_width, run = 0, 0
    started: float | None = None
    while True:
        r = next_reading(it)
        started = r.t if started is None else started
        if r.values is None:
            skipped.odd(r)
            run = 0
        elif len(r.values) == run_width:
            run += 1
        else:
            skipped.count += run  # a cut line, or readings of a width that did not last
            run_width, run = len(r.values), 1
        if run >= SETTLE_LINES:
            if expected is not None and run_width != expected:
                raise InputError(f"the board now prints {run_width} values per line, it printed {expected}"
                                 + (f" ({', '.join(axes)})" if axes else "") + "; nothing was stored",
                                 field="readings")
            return run_width
        if r.t - started > max_wait_s:
            last = f" (last: {skipped.last!r})" if skipped.last else ""
            raise InputError(f"no steady readings in {max_wait_s:g} s: {skipped.count} line(s) were not "
                             f"readings{last}; check the baud rate and that the board prints numbers "
                             "separated by commas, one reading per line", field="readings")


def measure_rate(it: Iterator[Reading], width: int, skipped: Skipped, *, detect_s: float = DETECT_S,
                 max_wait_s: float = MAX_WAIT_S) -> RateEstimate:
    """The rate of a settled stream of ``width`` values, measured over ``detect_s`` (at least DETECT_LINES
    readings); an odd line restarts the measurement once the stream settles again."""
    times: list[float] = []
    while True:
        r = next_reading(it)
        if r.values is None or len(r.values) != width:
            skipped.odd(r)
            settle(it, width, skipped, max_wait_s=max_wait_s)
            times = []
            continue
        times.append(r.t)
        span = times[-1] - times[0]
        if (span >= detect_s and len(times) >= DETECT_LINES) or (span >= max_wait_s and len(times) >= 3):
            return detect_rate(times)
        if span > max_wait_s:
            raise InputError(f"only {len(times)} reading(s) in {span:.1f} s: too few to measure the rate; "
                             "give --frequency HZ", field="frequency")


def sample_rows(length_ms: float, frequency_hz: float) -> int:
    """Rows of a sample of ``length_ms`` at ``frequency_hz`` (N rows at F Hz cover N / F seconds)."""
    rows = round(length_ms * frequency_hz / 1000)
    if rows < 2:
        raise InputError(f"{length_ms:g} ms at {frequency_hz:g} Hz is {rows} reading(s); a sample needs at least 2",
                         field="length-ms")
    return rows


class Recorder:
    """Records ``samples`` samples of ``length_ms`` (at the detected or given rate) or of ``rows`` rows.

    ``frequency_hz=None`` measures the rate for ``detect_s`` seconds first. ``name_axes(width)`` names the
    axes once the number of values per line is known (it may ask the user: the input buffered meanwhile is
    flushed). The attributes ``phase``, ``sample_index``, ``current``, ``axes``, ``frequency_hz`` and
    ``rows_per_sample`` describe the recording in progress for a live view; ``on_warning`` hears rate drifts.
    """

    def __init__(
        self, readings: Iterable[Reading], *, samples: int = 1, length_ms: float | None = None,
        rows: int | None = None, frequency_hz: float | None = None,
        name_axes: Callable[[int], list[str]] | None = None, keep_partial: bool = False,
        detect_s: float = DETECT_S, max_wait_s: float = MAX_WAIT_S, max_resyncs: int = MAX_RESYNCS,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        if samples < 1:
            raise InputError(f"the number of samples must be at least 1, got {samples}", field="samples")
        if (length_ms is None) == (rows is None):
            raise InputError("give a sample length in ms or in rows (one of them)", field="length-ms")
        if length_ms is not None and not length_ms > 0:
            raise InputError(f"the sample length must be positive, got {length_ms:g} ms", field="length-ms")
        if rows is not None and rows < 2:
            raise InputError(f"a sample needs at least 2 rows, got {rows}", field="rows")
        if frequency_hz is not None and not frequency_hz > 0:
            raise InputError(f"the frequency must be positive, got {frequency_hz:g} Hz", field="frequency")
        self.readings = readings
        self.samples_wanted = samples
        self.length_ms = length_ms
        self.rows = rows
        self.given_hz = frequency_hz
        self.name_axes = name_axes
        self.keep_partial = keep_partial
        self.detect_s = detect_s
        self.max_wait_s = max_wait_s
        self.max_resyncs = max_resyncs
        self.on_warning = on_warning
        # live state
        self.phase = "waiting"  # waiting -> detecting -> recording -> done
        self.sample_index = 0
        self.current: list[list[float]] = []
        self.axes: list[str] = []
        self.width = 0
        self.frequency_hz: float | None = frequency_hz
        self.rows_per_sample = rows or 0
        self.recorded: list[RecordedSample] = []
        self.skip = Skipped()
        self.resyncs = 0
        self._drift: DriftMonitor | None = None

    @property
    def skipped(self) -> int:
        """Lines skipped so far (not readings, or of a width that did not last)."""
        return self.skip.count

    def _settle(self, it: Iterator[Reading], expected: int | None) -> int:
        return settle(it, expected, self.skip, max_wait_s=self.max_wait_s, axes=self.axes)

    # -- recording ------------------------------------------------------------------------------------------
    def run(self) -> Recording:
        it = iter(self.readings)
        rate: RateEstimate | None = None
        try:
            self.width = self._settle(it, None)
            if self.given_hz is None:
                self.phase = "detecting"
                rate = measure_rate(it, self.width, self.skip, detect_s=self.detect_s, max_wait_s=self.max_wait_s)
                self.frequency_hz = rate.frequency_hz
            self.axes = self.name_axes(self.width) if self.name_axes else default_axes(self.width)
            if len(self.axes) != self.width:
                raise InputError(f"{len(self.axes)} axis name(s) for {self.width} values per line", field="axes")
            flush = getattr(self.readings, "flush", None)
            if callable(flush):
                flush()
            self._settle(it, self.width)
            assert self.frequency_hz is not None
            if self.rows is None:
                assert self.length_ms is not None
                self.rows_per_sample = sample_rows(self.length_ms, self.frequency_hz)
            self.phase = "recording"
            self._drift = DriftMonitor(self.frequency_hz)
            self._record(it, self._drift)
        except DeviceGone as gone:
            if not (self.keep_partial and self.phase == "recording"):
                self.phase = "done"
                kept = len(self.recorded)
                note = (f"; {kept} complete sample(s) were recorded and dropped (--keep-partial keeps them)"
                        if kept or len(self.current) >= 2 else "")
                raise DeviceGone(f"{gone.reason}{note}; nothing was stored", source=gone.source) from gone
            if len(self.current) >= 2:
                self.recorded.append(RecordedSample(list(self.current), partial=True))
            return self._result(rate, ended=str(gone))
        self.phase = "done"
        return self._result(rate, ended=None)

    def _record(self, it: Iterator[Reading], drift: DriftMonitor) -> None:
        while len(self.recorded) < self.samples_wanted:
            self.sample_index = len(self.recorded)
            self.current = []
            while len(self.current) < self.rows_per_sample:
                r = next_reading(it)
                if r.values is None or len(r.values) != self.width:
                    self._resync(it, r, drift)
                    continue
                self.current.append(r.values)
                warning = drift.add(r.t)
                if warning and self.on_warning:
                    self.on_warning(warning)
            self.recorded.append(RecordedSample(self.current))
            self.current = []

    def _resync(self, it: Iterator[Reading], r: Reading, drift: DriftMonitor) -> None:
        """An odd line mid-stream (a reset banner, a cut line): restart the sample once readings resume."""
        self.skip.odd(r)
        self.resyncs += 1
        if self.resyncs > self.max_resyncs:
            raise InputError(f"the board printed {self.resyncs} lines that are not readings mid-stream (last: "
                             f"{self.skip.last!r}); each one restarts the sample in progress; nothing was stored",
                             field="readings")
        self.current = []
        drift.restart()
        self._settle(it, self.width)

    def _result(self, rate: RateEstimate | None, ended: str | None) -> Recording:
        assert self.frequency_hz is not None
        self.phase = "done"
        return Recording(self.width, list(self.axes), self.frequency_hz, self.rows_per_sample, rate,
                         list(self.recorded), self.skip.count, self.resyncs,
                         list(self._drift.warnings) if self._drift else [], ended)
