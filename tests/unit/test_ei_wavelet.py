"""Edge Impulse's Wavelet-mode spectral features (``crisp_eml.dsp.ei_wavelet``) against EI's own outputs.

The golden vectors (``tests/data/ei_golden/spectral-analysis.json.gz``) were produced by Edge Impulse's
processing blocks. ``_prepared`` below does the per-axis preprocessing exactly as the module docstring of
``ei_wavelet`` states EI does it (scale, v4 input decimation, float32 Butterworth, mean removal), so these tests
check the features and that statement; the test through ``make_block`` runs once the EI spectral class exists.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import signal

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.ei_wavelet import (
    FEATURES,
    WAVELETS,
    array_features,
    check_wavelet,
    ei_wavelet_features,
    ei_wavelet_names,
    histogram_entropy,
)
from ei_golden import Case, assert_features_close, load_cases

RATIO_STAGES = {1: [], 3: [3], 10: [10], 30: [3, 10], 100: [10, 10], 1000: [10, 10, 10]}


def _wavelet_cases(version: int) -> list[Case]:
    return [c for c in load_cases("spectral-analysis", version) if c.params["analysis-type"] == "Wavelet"]


def _prepared(case: Case) -> tuple[np.ndarray, float]:
    """EI's signal before its wavelet code, ``[1, A, L']``, and the sampling frequency after decimation."""
    p: dict[str, Any] = case.params
    fs = case.sampling_freq
    ratio = int(p["input-decimation-ratio"])
    sos = None
    if p["filter-type"] in ("low", "high") and int(p["filter-order"]) > 0:
        sos = np.float32(signal.butter(int(p["filter-order"]), 2 * float(p["filter-cutoff"]) / (fs / ratio),
                                       btype=p["filter-type"], output="sos"))
    rows = []
    for a in range(case.window.shape[2]):
        x: np.ndarray = case.window[0, :, a].astype(np.float32) * float(p["scale-axes"])
        for q in RATIO_STAGES[ratio]:
            dsos = signal.cheby1(8, 0.05, 0.8 / q, output="sos")
            x = signal.sosfilt(dsos, x, zi=signal.sosfilt_zi(dsos) * x[0])[0][::q]
        if sos is not None:
            x = signal.sosfilt(sos, x)
        rows.append(x - np.mean(x))
    return np.stack(rows)[None], fs / ratio


def test_golden_has_wavelet_cases() -> None:
    for v in (3, 4):
        cases = _wavelet_cases(v)
        assert sum(c.features is not None for c in cases) >= 8
        assert any(c.error for c in cases)


@pytest.mark.parametrize("version", [3, 4])
def test_features_match_edge_impulse(version: int) -> None:
    checked = 0
    for case in _wavelet_cases(version):
        y, fs = _prepared(case)
        wavelet, level = str(case.params["wavelet"]), int(case.params["wavelet-level"])
        if case.error is not None:
            with pytest.raises(InputError) as e:
                check_wavelet(y.shape[-1], wavelet, level, fs)
            assert e.value.field == "wavelet-level", case.id
            ms = case.error.split("at least ")[1].split(" ms")[0]
            assert f"at least {ms} ms" in e.value.reason, (case.id, e.value.reason)
            continue
        check_wavelet(y.shape[-1], wavelet, level, fs)
        ours = ei_wavelet_features(y, wavelet, level)
        assert ours.dtype == np.float32 and ours.shape == (1, y.shape[1], (level + 1) * len(FEATURES))
        assert case.features is not None
        assert_features_close(ours, case.features, case.id)
        checked += 1
    assert checked >= 8


def test_decimated_signal_is_float64() -> None:
    """v4 with input decimation: EI's signal is float64 after its float64 decimation sections, and the
    features are then computed in float64 (dtype kept, not rounded to float32 first)."""
    case = next(c for c in _wavelet_cases(4) if int(c.params["input-decimation-ratio"]) > 1)
    y, _ = _prepared(case)
    assert y.dtype == np.float64
    level = int(case.params["wavelet-level"])
    ours = ei_wavelet_features(y, "db4", level)
    assert_features_close(ours, case.features, case.id)
    assert not np.array_equal(ours, ei_wavelet_features(y.astype(np.float32), "db4", level))


def test_names_and_order() -> None:
    names = ei_wavelet_names(2)
    assert len(names) == 3 * 14
    assert names[:3] == ["L0-entropy", "L0-zcross", "L0-mcross"]
    assert names[14] == "L1-entropy" and names[-1] == "L2-kurtosis"
    assert names[3:8] == ["L0-n5", "L0-n25", "L0-n75", "L0-n95", "L0-median"]


def test_hand_computed_array() -> None:
    """One small array worked out by hand: order, nearest-rank percentiles, crossings / m, ddof 1 var."""
    c = np.array([3.0, -1.0, 2.0, 0.0, -4.0, 5.0], dtype=np.float32)
    f = array_features(c[None])[0]
    d = dict(zip(FEATURES, f, strict=True))
    # signs > 0: T F T F F T -> 4 changes; mean 5/6: > mean T F T F F T -> 4 changes; both / 6
    assert d["zcross"] == pytest.approx(4 / 6) and d["mcross"] == pytest.approx(4 / 6)
    s = sorted(c.tolist())  # [-4, -1, 0, 2, 3, 5]; index int(5 p / 100 + .5): 5->0, 25->1, 75->4, 95->5, 50->3
    assert [d["n5"], d["n25"], d["n75"], d["n95"], d["median"]] == [s[0], s[1], s[4], s[5], s[3]]
    assert d["var"] == pytest.approx(np.var(c.astype(np.float64), ddof=1), rel=1e-6)
    assert d["std"] == pytest.approx(np.std(c.astype(np.float64)), rel=1e-6)
    assert d["rms"] == pytest.approx(np.sqrt(np.mean(c.astype(np.float64) ** 2)), rel=1e-6)
    # 100 bins over [-4, 5] (width 0.09): every value alone in its bin -> ln 6
    assert d["entropy"] == pytest.approx(np.log(6), rel=1e-9)


def _entropy_of_counts(counts: list[int]) -> float:
    p = np.array(counts, dtype=np.float64) / sum(counts)
    return float(-(p * np.log(p)).sum())


def test_entropy_counts_values_per_bin() -> None:
    """Entropy of the value histogram, the last bin closed: [0, 0, 1, 1, 1, 1] -> two bins, p = 1/3, 2/3.

    (Relative 1e-6, not exact: numpy's densities divide by float32 bin widths that differ in the last ulp.)"""
    c = np.array([[0, 0, 1, 1, 1, 1]], dtype=np.float32)
    assert histogram_entropy(c)[0] == pytest.approx(_entropy_of_counts([2, 4]), rel=1e-6)
    # a value on an inner edge goes to the bin above it: edges of [0, 1] at k/100; 0.5 is edge 50 exactly
    c2 = np.array([[0.0, 0.5, 0.5, 0.4999, 1.0]], dtype=np.float64)
    assert histogram_entropy(c2)[0] == pytest.approx(_entropy_of_counts([1, 1, 2, 1]), rel=1e-9)


def test_edges_follow_numpy_1x_not_float32_linspace() -> None:
    """Bin edges are a float64 linspace cast to float32 (numpy 1.x, which EI pins), not numpy 2's float32
    linspace: a value between the two versions of an edge falls in the bin below it."""
    rng = np.random.default_rng(11)
    for _ in range(1000):
        lo, hi = np.float32(rng.uniform(-3, -0.1)), np.float32(rng.uniform(0.1, 3))
        k = np.arange(101)
        e64 = (float(lo) + k * ((float(hi) - float(lo)) / 100)).astype(np.float32)
        e32 = k.astype(np.float32) * np.float32((hi - lo) / np.float32(100)) + lo
        diff = np.flatnonzero(e32[1:100] < e64[1:100]) + 1
        if diff.size:
            break
    j = int(diff[0])
    v = e32[j]  # >= numpy 2's edge j, < numpy 1.x's edge j: bin j - 1 for EI
    inside = np.float32((float(e64[j - 1]) + float(e64[j])) / 2)  # surely in bin j - 1
    c = np.array([[lo, v, inside, hi]], dtype=np.float32)
    assert histogram_entropy(c)[0] == pytest.approx(_entropy_of_counts([1, 2, 1]), rel=1e-6)


def test_constant_and_zero_arrays() -> None:
    z = np.zeros((1, 40), dtype=np.float32)
    f = array_features(z)[0]
    assert np.all(f == 0.0)  # rms 0 -> skew, kurtosis 0; one bin -> entropy 0
    k = np.full((1, 40), 0.25, dtype=np.float32)
    d = dict(zip(FEATURES, array_features(k)[0], strict=True))
    assert d["entropy"] == 0.0 and d["skew"] == 0.0 and d["kurtosis"] == -3.0  # scipy 1.7.3 constant rule
    assert d["mean"] == pytest.approx(0.25) and d["var"] == 0.0


def test_constant_axis_rounding_noise() -> None:
    """9.81 on every sample: float32 ``x - mean(x)`` is a tiny non-zero constant, the detail coefficients are
    rounding noise of ~1e-15 whose float32 ``m2 * m2`` underflows. Edge Impulse (numpy 1.x) finishes skew and
    kurtosis in float64: finite skew, kurtosis exactly -3 (m4 underflows to 0 in float32), no NaN."""
    x = np.full((1, 1, 125), 9.81, dtype=np.float32)
    y = x - x.mean(axis=-1, keepdims=True)
    assert np.all(y != 0)
    f = ei_wavelet_features(y, "db4", 1)[0, 0]
    assert np.all(np.isfinite(f))
    d1 = dict(zip(FEATURES, f[14:], strict=True))
    assert d1["rms"] > 0 and d1["kurtosis"] == -3.0 and d1["skew"] != 0.0


def test_vectorised_over_windows_and_axes() -> None:
    rng = np.random.default_rng(3)
    y = rng.standard_normal((7, 2, 256)).astype(np.float32)
    all_at_once = ei_wavelet_features(y, "sym4", 2)
    one_by_one = np.stack([[ei_wavelet_features(y[i:i + 1, a:a + 1], "sym4", 2)[0, 0] for a in range(2)]
                           for i in range(7)])
    np.testing.assert_array_equal(all_at_once, one_by_one)


def test_level_zero_is_the_signal_itself() -> None:
    rng = np.random.default_rng(4)
    y = rng.standard_normal((1, 1, 64)).astype(np.float32)
    np.testing.assert_array_equal(ei_wavelet_features(y, "db4", 0)[0, 0], array_features(y[0, 0][None])[0]
                                  .astype(np.float32))


@pytest.mark.parametrize(("window_len", "wavelet", "level", "field"), [
    (200, "db20", 1, "wavelet"),  # a pywt wavelet outside EI's list
    (200, "Haar", 1, "wavelet"),
    (200, "morl", 1, "wavelet"),
    (200, "db4", -1, "wavelet-level"),
    (200, "db4", 1.5, "wavelet-level"),
    (200, "db4", 3, "wavelet-level"),  # 32 * 8 = 256 > 200
    (31, "haar", 0, "wavelet-level"),
])
def test_refusals(window_len: int, wavelet: str, level: Any, field: str) -> None:
    with pytest.raises(InputError) as e:
        check_wavelet(window_len, wavelet, level, 100.0)
    assert e.value.field == field


def test_accepts_every_edge_impulse_wavelet_at_its_limit() -> None:
    assert len(WAVELETS) == 50 and len(set(WAVELETS)) == 50
    for w in WAVELETS:
        check_wavelet(256, w, 3)
    check_wavelet(32, "haar", 0)
    with pytest.raises(InputError, match="2560 ms"):
        check_wavelet(200, "db4", 3, 100.0)


def test_through_make_block() -> None:
    """End to end through the EI spectral class (runs once crisp_eml.dsp.ei_spectral exists)."""
    pytest.importorskip("crisp_eml.dsp.ei_spectral")
    from crisp_eml.dsp.registry import make_block

    n = 0
    for version in (3, 4):
        for case in _wavelet_cases(version):
            blk = make_block("spectral-analysis", case.params, version=version)
            L, A = case.window.shape[1:]
            if case.error is not None:
                with pytest.raises(InputError):
                    blk.validate(L, A, case.sampling_freq)
                continue
            blk.validate(L, A, case.sampling_freq)
            out = blk.transform(case.window, case.sampling_freq)
            assert out.shape == (1, *blk.output_shape(L, A, case.sampling_freq))
            assert_features_close(out, case.features, case.id)
            n += 1
    assert n >= 16
