"""Per-label thresholds in calibration (``core.calibration.per_label_settings``): when one label is confused
with the background more than another, no shared threshold keeps both false accepts and rejects down, and
a threshold per label does. Checked on a hand-made code stream whose answer is known, and the sharing of the
false-accept budget."""

from __future__ import annotations

import numpy as np

from crisp_eml.core.calibration import Truth, _allocations, choose, evaluate_grid, per_label_settings, settings_grid
from crisp_eml.core.postprocess import NEVER

SCALE, ZP = 1 / 256, -128
NAMES = ["a", "noise", "b"]


def _code(p: float) -> int:
    return int(round(p / SCALE)) + ZP


def _stream() -> tuple[np.ndarray, np.ndarray, Truth]:
    """'a' events score 0.9 but the background scores 0.7 for 'a' now and then; 'b' events only reach 0.6 and
    the background never goes above 0.3 for 'b'. One step = 10 rows, window 40 rows."""
    steps = 2000
    codes = np.full((steps, 3), _code(0.05), dtype=np.int8)
    codes[:, 1] = _code(0.8)  # background: 'noise'
    truth_labels, starts, ends = [], [], []
    for i, t in enumerate(range(50, steps - 50, 100)):
        k = 0 if i % 2 == 0 else 2
        codes[t:t + 3, k] = _code(0.9 if k == 0 else 0.6)
        codes[t:t + 3, 1] = _code(0.05)
        truth_labels.append(k)
        starts.append(t * 10 + 10)
        ends.append(t * 10 + 30)
        if i % 4 == 0:
            codes[t + 50, 0] = _code(0.7)  # a background spike that looks like 'a' (5 in all)
        codes[t + 60, 2] = _code(0.3)
    end_rows = (np.arange(steps, dtype=np.int64) + 4) * 10
    return codes, end_rows, Truth(np.array(truth_labels), np.array(starts, np.int64), np.array(ends, np.int64), 40,
                                  1.0)


def test_per_label_thresholds_beat_any_shared_one() -> None:
    codes, end_rows, truth = _stream()
    shared = settings_grid(4, average_windows=(1,), thresholds=tuple(round(0.3 + 0.05 * i, 2) for i in range(14)),
                           suppression_windows=(1.0,))
    results = evaluate_grid(codes, end_rows, truth, NAMES, ["noise"], SCALE, ZP, shared)
    _, met_shared = choose(results, 0.0, max_frr=0.0)
    assert not met_shared  # a shared threshold above 0.7 loses every 'b' event, below it 'a' fires on background
    own = per_label_settings(codes, end_rows, truth, NAMES, ["noise"], SCALE, ZP, 0.0, [(1, 4)])
    spike = (_code(0.7) - ZP) * SCALE  # what the background spike really scores after quantization
    assert len(own) == 1 and dict(own[0].per_label)["a"] > spike and dict(own[0].per_label)["b"] <= 0.6
    assert own[0].config(NAMES, ["noise"]).thresholds[1] == NEVER
    scored = evaluate_grid(codes, end_rows, truth, NAMES, ["noise"], SCALE, ZP, [*shared, *own])
    idx, met = choose(scored, 0.0, max_frr=0.0)
    assert met and scored[idx].setting == own[0] and scored[idx].far_per_hour == 0.0 and scored[idx].frr == 0.0
    assert scored[idx].to_dict()["thresholds"] == dict(own[0].per_label)


def test_a_false_accept_budget_is_shared_every_way() -> None:
    assert _allocations(0, 3) == [(0, 0, 0)]
    assert sorted(_allocations(1, 2)) == [(0, 0), (0, 1), (1, 0)]
    assert len(_allocations(2, 2)) == 6  # (0,0) (0,1) (0,2) (1,0) (1,1) (2,0)
    assert _allocations(30, 5) == [(6, 6, 6, 6, 6)]  # too many ways: the even share
    codes, end_rows, truth = _stream()
    # with 5 false accepts allowed in the hour, one way of sharing them lets 'a' fire on every background spike
    loose = per_label_settings(codes, end_rows, truth, NAMES, ["noise"], SCALE, ZP, 5.0, [(1, 4)])
    assert len(loose) > 1 and min(dict(s.per_label)["a"] for s in loose) <= (_code(0.7) - ZP) * SCALE
    tight = per_label_settings(codes, end_rows, truth, NAMES, ["noise"], SCALE, ZP, 4.0, [(1, 4)])
    assert min(dict(s.per_label)["a"] for s in tight) > (_code(0.7) - ZP) * SCALE
