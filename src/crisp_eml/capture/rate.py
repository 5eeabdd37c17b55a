"""Sampling frequency of a stream of readings, measured from when its lines arrived.

Pure: the caller gives timestamps (seconds, monotonic). As Edge Impulse's data forwarder does, the rate is
measured by counting lines over a period and rounded to a sensible value: a common sensor rate when the
measurement is within :data:`SNAP_TOLERANCE` of one (a board printing every 10 ms in a loop that also spends
time printing gives 99.4 Hz, which is 100 Hz), otherwise a whole number of Hz (two significant digits below
10 Hz). The period is fitted by least squares over the lines' arrival times; lines delivered together (a
backlog read at once, a USB packet of several lines) count by the last of them, so they do not bias it.
:class:`DriftMonitor` then compares windows of the running stream to the rate in use and says when it drifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisp_eml.core.errors import InputError

#: rates sensors and audio codecs really run at (Hz)
COMMON_RATES: tuple[float, ...] = (
    1, 2, 4, 5, 8, 10, 12.5, 15, 16, 20, 25, 26, 30, 32, 40, 50, 52, 60, 62.5, 64, 80, 100, 104, 120, 125,
    128, 150, 160, 200, 208, 250, 256, 300, 400, 416, 500, 512, 800, 833, 1000, 1024, 1600, 2000, 3200,
    4000, 6400, 8000, 11025, 12800, 16000, 22050, 24000, 32000, 44100, 48000,
)
SNAP_TOLERANCE = 0.015  # relative distance to a common rate that still snaps to it
DRIFT_TOLERANCE = 0.03  # relative difference between a window's rate and the rate in use that is reported


@dataclass(frozen=True)
class RateEstimate:
    """What a detection measured (``measured_hz``) and the rate it settled on (``frequency_hz``)."""

    frequency_hz: float
    measured_hz: float
    lines: int
    span_s: float

    def to_dict(self) -> dict[str, float | int]:
        return {"frequency_hz": self.frequency_hz, "measured_hz": round(self.measured_hz, 3),
                "lines": self.lines, "span_s": round(self.span_s, 3)}


def measure_hz(timestamps: Sequence[float]) -> float:
    """Lines per second: the inverse of the least-squares slope of arrival time against line number.

    Lines that arrived together (one read of a backlog: the reader was late) were printed over a while before
    that time; only the last of them was printed just before it, so each group counts with its last line only.
    """
    n = len(timestamps)
    if n < 2:
        raise InputError(f"need at least 2 readings to measure a rate, got {n}", field="frequency")
    points = [(i, t) for i, t in enumerate(timestamps) if i == n - 1 or timestamps[i + 1] != t]
    if len(points) < 2:
        raise InputError("the readings arrived all at once; cannot measure their rate (give --frequency HZ)",
                         field="frequency")
    mean_i = sum(i for i, _ in points) / len(points)
    mean_t = sum(t for _, t in points) / len(points)
    num = sum((i - mean_i) * (t - mean_t) for i, t in points)
    den = sum((i - mean_i) ** 2 for i, _ in points)
    period = num / den
    if period <= 0:
        raise InputError("the readings arrived out of order; cannot measure their rate (give --frequency HZ)",
                         field="frequency")
    return 1.0 / period


def sensible_rate(measured_hz: float) -> float:
    """The common rate within :data:`SNAP_TOLERANCE` of ``measured_hz``, else a rounded value."""
    if not measured_hz > 0:
        raise InputError(f"a rate must be positive, got {measured_hz}", field="frequency")
    nearest = min(COMMON_RATES, key=lambda r: abs(r - measured_hz) / r)
    if abs(nearest - measured_hz) / nearest <= SNAP_TOLERANCE:
        return float(nearest)
    if measured_hz >= 10:
        return float(round(measured_hz))
    return float(f"{measured_hz:.2g}")


def detect_rate(timestamps: Sequence[float]) -> RateEstimate:
    """The rate of lines that arrived at ``timestamps`` (oldest first), rounded to a sensible value."""
    measured = measure_hz(timestamps)
    return RateEstimate(sensible_rate(measured), measured, len(timestamps), timestamps[-1] - timestamps[0])


class DriftMonitor:
    """Watches arrival times in windows of ``window_s`` seconds (and at least ``min_lines`` lines) and
    answers a warning when a window's rate differs from ``frequency_hz`` by more than ``tolerance``.

    Each warning is given once until the rate comes back within tolerance; ``warnings`` keeps them all.
    """

    def __init__(self, frequency_hz: float, *, window_s: float = 2.0, min_lines: int = 20,
                 tolerance: float = DRIFT_TOLERANCE) -> None:
        self.frequency_hz = frequency_hz
        self.window_s = window_s
        self.min_lines = min_lines
        self.tolerance = tolerance
        self.warnings: list[str] = []
        self.last_hz: float | None = None
        self._window: list[float] = []
        self._drifting = False

    def add(self, t: float) -> str | None:
        """Record one line's arrival; a new warning when this completes a drifted window, else None."""
        self._window.append(t)
        if len(self._window) < self.min_lines or self._window[-1] - self._window[0] < self.window_s:
            return None
        window, self._window = self._window, [t]
        try:
            hz = measure_hz(window)
        except InputError:
            return None
        self.last_hz = hz
        off = abs(hz - self.frequency_hz) / self.frequency_hz
        if off <= self.tolerance:
            self._drifting = False
            return None
        if self._drifting:
            return None
        self._drifting = True
        warning = (f"the board's rate drifted: {hz:.1f} Hz measured, recording at {self.frequency_hz:g} Hz "
                   f"({off:.0%} off)")
        self.warnings.append(warning)
        return warning

    def restart(self) -> None:
        """Forget the current window (after a board reset the gap is not a rate)."""
        self._window = []
