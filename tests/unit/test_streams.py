"""Synthetic calibration streams (events at known, spaced times over background) and how detections are scored."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.calibration import Scored, Setting, Truth, choose, score
from crisp_eml.core.errors import InputError
from crisp_eml.data.streams import Clip, build_stream, default_gap_rows


def _clips(label: str, value: float, n: int, rows: int, axes: int = 2) -> list[Clip]:
    return [Clip(label, np.full((rows + 3 * i, axes), value + i, dtype=np.float32)) for i in range(n)]


def test_events_are_where_the_stream_says_spaced_and_complete() -> None:
    targets = _clips("walk", 100.0, 3, 20) + _clips("run", 200.0, 2, 30)
    background = _clips("stand", 1.0, 4, 50)
    s = build_stream(targets, background, frequency_hz=10.0, hours=0.5, seed=3, gap_rows=40)
    assert s.rows.shape == (18000, 2) and s.rows.dtype == np.float32
    assert len(s.events) > 100
    prev_end = 0
    for e in s.events:
        assert e.start_row - prev_end >= 40 and e.start_row - prev_end <= 80  # gap in [gap, 2 * gap]
        seg = s.rows[e.start_row:e.end_row]
        assert (seg >= 100).all()  # the whole target clip is there (no gain for non-audio)
        assert (s.rows[e.start_row - 1] < 100).all() and (s.rows[e.end_row] < 100).all()  # and nothing else
        assert (e.label == "walk") == (seg[0, 0] < 200)
        prev_end = e.end_row
    assert len(s.rows) - prev_end >= 40
    outside = np.ones(len(s.rows), dtype=bool)
    for e in s.events:
        outside[e.start_row:e.end_row] = False
    assert (s.rows[outside] < 100).all() and set(np.unique(s.rows[outside, 0])) == {1.0, 2.0, 3.0, 4.0}
    d = s.describe()
    assert d["events"] == len(s.events) and d["events_per_label"]["walk"] > d["events_per_label"]["run"] > 0
    assert s.hours == pytest.approx(0.5)


def test_same_seed_same_stream_other_seed_other_times() -> None:
    t, b = _clips("yes", 5.0, 3, 16), _clips("noise", 0.1, 3, 16, axes=1)
    t = [Clip(c.label, c.values[:, :1]) for c in t]
    a1 = build_stream(t, b, frequency_hz=16.0, hours=0.1, seed=1, gap_rows=40, audio=True, gain_db=6.0)
    a2 = build_stream(t, b, frequency_hz=16.0, hours=0.1, seed=1, gap_rows=40, audio=True, gain_db=6.0)
    a3 = build_stream(t, b, frequency_hz=16.0, hours=0.1, seed=2, gap_rows=40, audio=True, gain_db=6.0)
    assert np.array_equal(a1.rows, a2.rows) and a1.events == a2.events
    assert a1.events != a3.events
    gains = {round(float(a1.rows[e.start_row + 8, 0]), 3) for e in a1.events}
    assert len(gains) > 5  # audio: a random gain per clip when asked
    plain = build_stream(t, b, frequency_hz=16.0, hours=0.1, seed=1, gap_rows=40, audio=True)
    assert {round(float(plain.rows[e.start_row + 8, 0]), 3) for e in plain.events} <= {5.0, 6.0, 7.0}  # as recorded
    with pytest.raises(InputError, match="gain_db|dB"):
        build_stream(t, b, frequency_hz=16.0, hours=0.1, seed=1, gap_rows=40, audio=True, gain_db=-1.0)


def test_bad_inputs_are_refused_clearly() -> None:
    t, b = _clips("a", 5.0, 1, 10), _clips("b", 0.0, 1, 10)
    with pytest.raises(InputError, match="no background recordings"):
        build_stream(t, [], frequency_hz=10.0, hours=0.1, seed=0, gap_rows=20)
    with pytest.raises(InputError, match="axes"):
        build_stream(t, _clips("b", 0.0, 1, 10, axes=3), frequency_hz=10.0, hours=0.1, seed=0, gap_rows=20)
    with pytest.raises(InputError, match="too short"):
        build_stream(t, b, frequency_hz=10.0, hours=0.001, seed=0, gap_rows=20)
    with pytest.raises(InputError, match="hours"):
        build_stream(t, b, frequency_hz=10.0, hours=0.0, seed=0, gap_rows=20)
    assert default_gap_rows(16000, _clips("a", 0, 2, 16000, axes=1), 16000.0) == 80000  # 5 s of 16 kHz
    assert default_gap_rows(20, _clips("a", 0, 1, 100), 10.0) == 200  # twice the event


def test_detections_are_scored_against_the_events() -> None:
    # events of label 0 at rows [100, 200) and [1000, 1100); label 2 at [2000, 2050); window 40 rows; 0.5 h
    truth = Truth(np.array([0, 0, 2]), np.array([100, 1000, 2000]), np.array([200, 1100, 2050]), 40, 0.5)
    end_rows = np.array([99, 100, 240, 241, 1050, 2090, 3000])
    det = np.array([0, 0, 0, 0, 2, 2, 0])
    far, frr, per = score(det, end_rows, truth, ["yes", "noise", "no"], ["yes", "no"])
    # yes: 99 (before) and 241 (after end + window) and 3000 are false; 100, 240 hit event 1; event 2 missed
    assert per["yes"] == {"false_accepts": 3, "far_per_hour": 6.0, "events": 2, "rejected": 1, "frr": 0.5,
                          "true_accepts": 2}
    # no: 1050 lies in a "yes" event: a false accept of "no"; 2090 = 2050 + 40 hits
    assert per["no"]["false_accepts"] == 1 and per["no"]["rejected"] == 0
    assert far == 8.0 and frr == pytest.approx(1 / 3)


def test_choice_prefers_lowest_frr_within_the_far_ceiling() -> None:
    def r(n: int, thr: float, far: float, frr: float) -> Scored:
        return Scored(Setting(n, thr, 4), far, frr)

    results = [r(1, 0.3, 5.0, 0.0), r(2, 0.5, 1.0, 0.1), r(3, 0.5, 0.0, 0.1), r(4, 0.9, 0.0, 0.4)]
    assert choose(results, 1.0) == (2, True)  # same FRR as #1, lower FAR
    assert choose(results, 10.0) == (0, True)
    assert choose(results, 1.0, max_frr=0.05) == (2, False)  # nothing meets both: the lowest FAR, then FRR
    assert choose(results, 0.0, max_frr=0.5) == (2, True)
