"""Learner choice for raw-window impulses: dense vs conv1d by short cross-validated trainings."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.core.sample import Sample, Sensor
from crisp_eml.learn.learner_cv import learner_scores
from crisp_eml.workspace.impulse_search import choose_learner, learner_candidates, learning_for


def _spec(blocks: list[str], rows: int = 24) -> ImpulseSpec:
    return ImpulseSpec.from_dict({"input": {"type": "time-series", "window_size_ms": rows * 100.0,
                                            "frequency_hz": 10.0, "axes": ["x"], "length_mode": "pad"},
                                  "blocks": [{"type": b} for b in blocks]})


def _moving_bump(n: int, rows: int = 24, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Class 'bump' has a narrow peak, class 'dip' a narrow trough, each at a random place: a shape that moves
    in time, what a convolution reads and dense layers on so few recordings do not."""
    rng = np.random.default_rng(seed)
    recs, labels = [], []
    for i in range(n):
        x = 0.3 * rng.standard_normal(rows).astype(np.float32)
        at = int(rng.integers(2, rows - 3))
        sign = 1.0 if i % 2 == 0 else -1.0
        x[at - 1:at + 2] += sign * np.float32([1.5, 3.0, 1.5])
        recs.append(x[None, :, None])
        labels.append("bump" if i % 2 == 0 else "dip")
    return recs, labels


def test_candidates_only_for_time_axis_windows() -> None:
    assert set(learner_candidates(_spec(["raw"]))) == {"dense", "conv1d"}
    assert learner_candidates(_spec(["flatten"])) == {}
    assert learner_candidates(_spec(["raw", "flatten"])) == {}  # several blocks: one flat vector


def test_scores_are_reproducible_and_see_what_convolution_reads() -> None:
    recs, labels = _moving_bump(24)
    cands = learner_candidates(_spec(["raw"]))
    a = learner_scores(recs, labels, cands, seed=1)
    assert a == learner_scores(recs, labels, cands, seed=1)
    assert all(0.0 <= v <= 1.0 for v in a.values())
    assert a["conv1d"] >= 0.9 and a["conv1d"] > a["dense"], a
    with pytest.raises(ValueError):
        learner_scores(recs[:3], labels[:3], cands)


def test_choose_learner_fills_the_learning_block_and_says_why() -> None:
    recs, labels = _moving_bump(24)
    samples = [Sample(id=f"s{i}", name=f"s{i}", label=lab, category="training", kind="timeseries",
                      sensors=(Sensor("x"),), frequency_hz=10.0, interval_ms=None, length=24, shape=(24, 1),
                      hash=f"{i:064d}", source="t") for i, lab in enumerate(labels)]
    data = {s.id: r[0] for s, r in zip(samples, recs, strict=True)}
    spec = _spec(["raw"])
    chosen = choose_learner(spec, samples, lambda s: data[s.id])
    assert chosen is not None and chosen[0] == "conv1d"
    block, why = learning_for(spec, None, chosen)
    assert block["params"]["layers"] == learner_candidates(spec)["conv1d"]
    assert "conv1d" in why and "dense" in why  # both scores are named
    assert choose_learner(_spec(["flatten"]), samples, lambda s: data[s.id]) is None
