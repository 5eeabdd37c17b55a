"""Human-readable numbers, durations and thresholds (core/humanize.py) and the messages that use them: no
exponent notation, no "1.46e+06 ms" window, no "gap 0.100 > 0.1" contradiction."""

from __future__ import annotations

import pytest

from crisp_eml.core.humanize import distinct_durations, distinct_pair, duration_ms, duration_with_ms, plain_number
from crisp_eml.data import quality as q
from crisp_eml.learn.metrics import overfit_warning


@pytest.mark.parametrize(("ms", "text"), [
    (0.5, "0.5 ms"), (250, "250 ms"), (1460, "1.46 s"), (2000, "2 s"), (60_000, "1 min"), (1_460_000, "24 min 20 s"),
    (3_600_500, "1 h 0.5 s"), (86_400_000, "24 h"), (187_200_000, "2 d 4 h"), (-1500, "-1.5 s"),
])
def test_durations(ms: float, text: str) -> None:
    assert duration_ms(ms) == text


def test_duration_with_exact_ms_and_plain_numbers() -> None:
    assert duration_with_ms(1_460_000) == "24 min 20 s (1460000 ms)"
    assert duration_with_ms(250) == "250 ms"
    assert plain_number(1.46e6) == "1460000" and plain_number(1 / 3600) == "0.000277778"
    assert plain_number(2.50) == "2.5" and plain_number(1e-9) == "0.000000001" and plain_number(123456789.4) == \
        "123456789"
    assert "e" not in plain_number(3.2e-7) + plain_number(7.5e12)


def test_a_threshold_never_reads_as_a_contradiction() -> None:
    assert distinct_pair(0.1004, 0.1) == ("0.1004", "0.1000")
    assert distinct_pair(0.25, 0.1) == ("0.250", "0.100")
    assert distinct_pair(0.1004, 0.1, 0, percent=True) == ("10.04%", "10.00%")
    assert distinct_durations(1999.9999, 2000) == ("1999.9999 ms", "2000.0000 ms")
    assert distinct_durations(1500, 2000) == ("1.5 s", "2 s")


def test_overfit_gap_message() -> None:
    assert overfit_warning({"accuracy": [0.8], "val_accuracy": [0.7]}) is None  # 0.10000000000000009 is not > 0.1
    w = overfit_warning({"accuracy": [0.8004], "val_accuracy": [0.7]})
    assert w is not None and "0.8004 vs validation 0.7000" in w and "gap 0.1004 > 0.1000" in w
    w = overfit_warning({"accuracy": [0.95], "val_accuracy": [0.7]})
    assert w is not None and "gap 0.250 > 0.100" in w


def test_quality_messages_do_not_round_into_contradictions() -> None:
    (short,) = [i for i in q.rate_issues(3, frequency_hz=1.50000006, dominant_hz=None, window_ms=2000)
                if i.code == "too_short"]
    assert short.message == "1999.9999 ms long, shorter than the 2000.0000 ms window", short.message
    (short,) = [i for i in q.rate_issues(25, frequency_hz=10, dominant_hz=None, window_ms=86_400_000)]
    assert short.message == "2.5 s long, shorter than the 24 h window"
    ts = [0.0, 100.0, 200.0, 310.04, 410.04, 510.04]
    (irregular,) = [i for i in q.rate_issues(6, frequency_hz=10, dominant_hz=None, window_ms=None, timestamps_ms=ts)
                    if i.code == "irregular_rate"]
    assert "vary by up to 10.04% around 100 ms (more than 10.00%)" in irregular.message, irregular.message
    (rate,) = q.rate_issues(10, frequency_hz=1 / 3600, dominant_hz=1e-5, window_ms=None)
    assert "e-0" not in rate.message and "0.00001 Hz" in rate.message
