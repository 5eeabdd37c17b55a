"""Data-driven impulse design without a project: profile, candidates, scoring and the learning block."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.impulse import ImpulseSpec, TimeSeriesInput
from crisp_eml.core.sample import Sample, Sensor
from crisp_eml.dsp.pipeline import validate_impulse
from crisp_eml.workspace.impulse import build_default_spec, design_impulse
from crisp_eml.workspace.impulse_search import candidates, learning_for, profile, sliding_rows


def rec(i: int, label: str, length: int, freq: float, axes: tuple[str, ...] = ("x",)) -> Sample:
    return Sample(id=f"s{i}", name=f"s{i}", label=label, category="training", kind="timeseries",
                  sensors=tuple(Sensor(a) for a in axes), frequency_hz=freq, interval_ms=None, length=length,
                  shape=(length, len(axes)), hash=f"{i:064d}", source="t")


def inp(s: ImpulseSpec) -> TimeSeriesInput:
    assert isinstance(s.input, TimeSeriesInput)
    return s.input


def test_fixed_length_offers_whole_recording_pad_and_rate_scaled_sliding_windows() -> None:
    p = profile([rec(i, "ab"[i % 2], 100, 10.0, ("x", "y")) for i in range(8)], 10.0, ["x", "y"], "timeseries")
    assert p.fixed_length and p.median_length == 100
    assert sliding_rows(p) == [20, 50]  # 2 s at 10 Hz, half a recording
    cands = candidates(p)
    whole = [c for c in cands if inp(c.spec).length_mode != "window"]
    assert {inp(c.spec).length_mode for c in whole} == {"pad"}
    assert {inp(c.spec).window_len for c in whole} == {100}
    assert {b.type for c in cands for b in c.spec.blocks} == {"raw", "flatten", "spectral-analysis"}
    for c in cands:
        validate_impulse(c.spec)
        for b in c.spec.blocks:
            assert b.params.get("filter-type", "none") == "none"  # no fixed low-pass
            if b.type == "spectral-analysis":
                assert b.params["fft-length"] <= inp(c.spec).window_len


def test_rates_scale_the_windows_and_variable_lengths_resample() -> None:
    fast = profile([rec(i, "ab"[i % 2], 1000, 100.0) for i in range(4)], 100.0, ["x"], "timeseries")
    assert sliding_rows(fast) == [200, 500]  # 2 s at 100 Hz
    var = profile([rec(i, "ab"[i % 2], 30 + 40 * i, 100.0) for i in range(6)], 100.0, ["x"], "timeseries")
    assert not var.fixed_length
    whole = [c for c in candidates(var) if inp(c.spec).length_mode != "window"]
    assert whole and {inp(c.spec).length_mode for c in whole} == {"resample"}
    assert {inp(c.spec).window_len for c in whole} == {var.median_length}
    slow = profile([rec(i, "ab"[i % 2], 24, 1 / 3600) for i in range(4)], 1 / 3600, ["x"], "timeseries")
    for c in candidates(slow):  # hourly data: windows of a day are fine, none shorter than a sample period
        validate_impulse(c.spec)
        assert inp(c.spec).window_len >= 8


def test_quick_guess_spectral_filter_follows_the_rate() -> None:
    for freq in (10.0, 100.0, 1000.0):
        s = build_default_spec([rec(0, "a", int(10 * freq), freq)])
        cutoff = s.blocks[0].params["filter-cutoff"]
        assert cutoff == pytest.approx(0.3 * freq, rel=1e-3)  # not 3 Hz whatever the rate
        validate_impulse(s)
    hourly = build_default_spec([rec(0, "a", 24, 1 / 3600)])
    assert inp(hourly).window_len == 8  # a 2 s window would hold no hourly sample


def _signals(n_per: int, length: int | None = None) -> tuple[list[Sample], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    samples, arrays = [], {}
    for i in range(2 * n_per):
        label = "ab"[i % 2]
        n = length or int(rng.integers(40, 90))
        t = np.linspace(0, 1, n)
        shape = np.sin(2 * np.pi * t) if label == "a" else np.sign(t - 0.5)  # a shape over the whole recording
        s = rec(i, label, n, 50.0)
        samples.append(s)
        arrays[s.id] = (shape + 0.2 * rng.standard_normal(n)).astype(np.float32)[:, None]
    return samples, arrays


def test_design_scores_candidates_and_explains_the_choice() -> None:
    samples, arrays = _signals(6)
    spec, choice = design_impulse(samples, lambda s: arrays[s.id])
    assert choice["method"] == "cross-validation" and choice["folds"] == 5
    scores = [c["score"] for c in choice["candidates"]]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 3
    chosen = next(c for c in choice["candidates"] if c["name"] == choice["chosen"])
    assert chosen["score"] >= scores[0] - 0.01 and chosen["score"] > 0.8
    assert inp(spec).length_mode == "resample"  # variable-length shapes: the whole recording, resampled
    assert spec.learning is not None and spec.learning["type"] == "nn-classifier"
    assert any("cross-validated" in r for r in choice["reasons"])
    quick, qc = design_impulse(samples, lambda s: arrays[s.id], quick=True)
    assert qc["method"] == "quick" and not qc["candidates"] and quick.learning is not None


def test_too_few_recordings_per_class_falls_back_without_scoring() -> None:
    samples, arrays = _signals(1, length=60)
    spec, choice = design_impulse(samples, lambda s: arrays[s.id])
    assert choice["method"] == "quick" and "not scored" in choice["reasons"][0]
    validate_impulse(spec)


def test_learning_block_matches_the_feature_shape_and_is_kept() -> None:
    p = profile([rec(i, "ab"[i % 2], 100, 10.0, ("x", "y")) for i in range(8)], 10.0, ["x", "y"], "timeseries")
    by_name = {c.name.split(" ")[0] + ("-whole" if "whole" in c.name else ""): c.spec for c in candidates(p)}
    flat, _ = learning_for(by_name["flatten-whole"], None)
    assert [lay["type"] for lay in flat["params"]["layers"]] == ["dense", "dense"]
    conv, _ = learning_for(by_name["raw-whole"], None)
    assert conv["params"]["layers"][0]["type"] == "conv1d"
    prev = ImpulseSpec(input=by_name["raw-whole"].input, blocks=by_name["raw-whole"].blocks,
                       learning={"type": "nn-classifier", "params": {"epochs": 7, **conv["params"]}})
    same, why = learning_for(by_name["raw-whole"], prev)
    assert same == prev.learning and "kept" in why
    other, why = learning_for(by_name["flatten-whole"], prev)
    assert other["params"]["epochs"] == 7 and other["params"]["layers"] == flat["params"]["layers"]
    anomaly = ImpulseSpec(input=prev.input, blocks=prev.blocks, learning={"type": "anomaly-kmeans", "params": {}})
    assert learning_for(by_name["flatten-whole"], anomaly)[0] == anomaly.learning
