"""Frequency detection from line arrival times: jitter, bursts, snapping to common rates, drift warnings."""

from __future__ import annotations

import random

import pytest

from crisp_eml.capture.rate import DriftMonitor, detect_rate, measure_hz, sensible_rate
from crisp_eml.core.errors import InputError


def arrivals(hz: float, n: int, *, jitter_s: float = 0.0, burst: int = 1, seed: int = 1,
             start: float = 100.0) -> list[float]:
    """When ``n`` lines printed at ``hz`` arrive: with random delay, and ``burst`` lines delivered at once."""
    rng = random.Random(seed)
    printed = [start + i / hz for i in range(n)]
    delayed = [t + rng.uniform(0, jitter_s) for t in printed]
    out: list[float] = []
    for i in range(0, n, burst):  # a burst arrives when its last line has
        group = delayed[i:i + burst]
        out += [max(group)] * len(group)
    return sorted(out) if jitter_s else out


@pytest.mark.parametrize("hz", [10, 50, 62.5, 100, 104, 200, 400, 1000])
def test_steady_rates_are_detected_exactly(hz: float) -> None:
    est = detect_rate(arrivals(hz, int(hz * 2)))
    assert est.frequency_hz == hz
    assert est.measured_hz == pytest.approx(hz, rel=1e-9)


@pytest.mark.parametrize(("hz", "seed"), [(100, 1), (100, 2), (200, 3), (50, 4), (125, 5)])
def test_jitter_and_bursts_still_give_the_rate(hz: float, seed: int) -> None:
    # up to 8 ms of scheduling delay per line and USB packets of 8 lines: still the board's rate
    times = arrivals(hz, int(hz * 2), jitter_s=0.008, burst=8, seed=seed)
    est = detect_rate(times)
    assert est.frequency_hz == hz
    assert est.measured_hz == pytest.approx(hz, rel=0.02)


@pytest.mark.parametrize("stall_at", [0, 100, 190])
def test_a_backlog_read_at_once_does_not_bias_the_rate(stall_at: int) -> None:
    # the reader was late (starting up, descheduled): 40 lines printed at 200 Hz arrive in one read
    times = arrivals(200, 200)
    late = times[min(stall_at + 39, 199)]
    times = [late if stall_at <= i < stall_at + 40 else t for i, t in enumerate(times)]
    assert measure_hz(times) == pytest.approx(200, rel=1e-9)
    assert detect_rate(times).frequency_hz == 200


def test_a_loop_slightly_slower_than_its_delay_snaps_to_the_common_rate() -> None:
    # delay(10) plus the time printing takes: 99.2 Hz is a 100 Hz board
    assert detect_rate(arrivals(99.2, 200)).frequency_hz == 100
    assert sensible_rate(61.9) == 62.5
    assert sensible_rate(1.004) == 1


def test_rates_far_from_common_ones_are_rounded() -> None:
    assert sensible_rate(73.4) == 73
    assert sensible_rate(333.3) == 333
    assert sensible_rate(3.33) == 3.3
    assert sensible_rate(0.25) == 0.25


def test_unmeasurable_streams_are_refused() -> None:
    with pytest.raises(InputError, match="at least 2"):
        measure_hz([1.0])
    with pytest.raises(InputError, match="all at once"):
        measure_hz([5.0] * 20)
    with pytest.raises(InputError, match="positive"):
        sensible_rate(0)


def test_drift_is_reported_once_until_it_recovers() -> None:
    mon = DriftMonitor(100, window_s=1.0, min_lines=10)
    steady = arrivals(100, 300, jitter_s=0.004, seed=7)
    assert [w for t in steady if (w := mon.add(t))] == []
    assert mon.last_hz == pytest.approx(100, rel=0.01)
    slow = arrivals(90, 300, start=steady[-1] + 0.011)
    warnings = [w for t in slow if (w := mon.add(t))]
    assert len(warnings) == 1 and "90.0 Hz measured, recording at 100 Hz (10% off)" in warnings[0]
    back = arrivals(100, 300, start=slow[-1] + 0.01)
    assert [w for t in back if (w := mon.add(t))] == []
    assert mon.warnings == warnings


def test_small_wobble_is_not_drift() -> None:
    mon = DriftMonitor(100, window_s=1.0, min_lines=10)
    assert [w for t in arrivals(101.5, 600, jitter_s=0.005) if (w := mon.add(t))] == []
