"""The float32 C twin of Edge Impulse's spectral-analysis v1-v4 (FFT) matches our Python within the twin rule.

Two sets: every FFT case of the Edge Impulse golden vectors that EI computes (one impulse per golden input, one
block per case, so a handful of builds), run on EI's own input windows; and synthetic impulses covering
version 1 peaks / bands, version 4 extra-low-frequency features and input decimation (3, 30), one of them
built with the sanitizers. Tolerance rule and harness: ``dsp_c_helpers``. A missing gcc fails the test.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from dsp_c_helpers import assert_twin_close, build, run, spec_of

from crisp_eml.dsp.pipeline import apply_impulse, n_features
from ei_golden import Case, load_cases


def _golden_groups() -> dict[str, list[Case]]:
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in load_cases("spectral-analysis"):
        if c.features is not None and not (c.version >= 3 and c.params["analysis-type"] == "Wavelet"):
            groups[c.input_id].append(c)
    return dict(groups)


GOLDEN = _golden_groups()


def test_golden_groups_cover_every_version() -> None:
    assert {c.version for cases in GOLDEN.values() for c in cases} == {1, 2, 3, 4}


@pytest.mark.parametrize("input_id", sorted(GOLDEN))
def test_c_twin_matches_python_on_edge_impulse_cases(input_id: str, tmp_path: Path) -> None:
    cases = GOLDEN[input_id]
    first = cases[0]
    length = first.window.shape[1]
    fs = first.sampling_freq
    blocks = [{"type": "spectral-analysis", "name": f"b{i}", "params": c.params, "implementation_version": c.version}
              for i, c in enumerate(cases)]
    spec = spec_of({"window_size_ms": length * 1000.0 / fs, "frequency_hz": fs, "axes": list(first.axes)}, blocks)
    assert spec.input.window_len == length  # type: ignore[union-attr]
    exe = build(spec, tmp_path)
    rng = np.random.default_rng(len(input_id))
    windows = np.concatenate([first.window, first.window[:, ::-1] * np.float32(0.5),
                              first.window + rng.normal(0, 0.2, first.window.shape).astype(np.float32)])
    c_out = run(exe, windows, n_features(spec))
    py = apply_impulse(spec, windows)
    widths = [c.features.size for c in cases if c.features is not None]
    assert py.shape[1] == sum(widths)
    start = 0
    for w in widths:  # per block: each has its own scale
        assert_twin_close(c_out[:, start:start + w], py[:, start:start + w])
        start += w


CASES = {
    "v1-peaks-bands": (1, {"window_size_ms": 2000, "frequency_hz": 62.5, "axes": ["x", "y"]},
                       {"fft-length": 64, "spectral-peaks-count": 5, "spectral-peaks-threshold": 0.05,
                        "spectral-power-edges": "0, 1, 5, 10, 31.25"}),
    "v1-long-fft-lowpass": (1, {"window_size_ms": 1000, "frequency_hz": 100, "axes": ["x"]},
                            {"fft-length": 256, "filter-type": "low", "filter-cutoff": 5.0}),
    "v2-low-nooverlap": (2, {"window_size_ms": 2000, "frequency_hz": 100, "axes": ["x", "y", "z"]},
                         {"filter-type": "low", "filter-cutoff": 8.0, "fft-length": 32, "do-fft-overlap": False}),
    "v3-high-nolog": (3, {"window_size_ms": 1500, "frequency_hz": 62.5, "axes": ["x", "y"]},
                      {"filter-type": "high", "filter-cutoff": 5.0, "filter-order": 4, "fft-length": 64,
                       "do-log": False, "scale-axes": 0.5}),
    "v4-extra-low-freq": (4, {"window_size_ms": 10000, "frequency_hz": 100, "axes": ["x", "y"]},
                          {"extra-low-freq": True, "fft-length": 32, "filter-type": "low", "filter-cutoff": 20.0,
                           "filter-order": 8}),
    "v4-decimate-3": (4, {"window_size_ms": 10000, "frequency_hz": 100, "axes": ["x", "y"]},
                      {"input-decimation-ratio": 3, "fft-length": 32}),
    "v4-decimate-30-high": (4, {"window_size_ms": 20000, "frequency_hz": 100, "axes": ["x"]},
                            {"input-decimation-ratio": 30, "fft-length": 16, "filter-type": "high",
                             "filter-cutoff": 0.3, "filter-order": 2}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_twin_matches_python(case: str, tmp_path: Path) -> None:
    version, inp, params = CASES[case]
    spec = spec_of(inp, [{"type": "spectral-analysis", "params": params, "implementation_version": version}])
    exe = build(spec, tmp_path, sanitize=case == "v4-extra-low-freq")
    length, fs = spec.input.window_len, spec.input.frequency_hz  # type: ignore[union-attr]
    n_axes = len(spec.input.axes)
    rng = np.random.default_rng(sorted(CASES).index(case))
    t = np.arange(length) / fs
    # tones below the (decimated) Nyquist frequency, noise and an offset per axis
    nyq = fs / 2 / int(params.get("input-decimation-ratio", 1))
    windows = (3.0 * np.sin(2 * np.pi * rng.uniform(0.05, 0.8 * nyq, (5, 1, n_axes)) * t[None, :, None])
               + 0.3 * rng.standard_normal((5, length, n_axes)) + rng.uniform(-2, 2, (5, 1, n_axes)))
    windows = windows.astype(np.float32)
    assert_twin_close(run(exe, windows, n_features(spec)), apply_impulse(spec, windows))


def test_v1_twin_reports_the_same_peaks_in_the_same_order(tmp_path: Path) -> None:
    """Peak order matters: swapping two (freq, height) pairs must break the match."""
    version, inp, params = CASES["v1-peaks-bands"]
    spec = spec_of(inp, [{"type": "spectral-analysis", "params": params, "implementation_version": version}])
    t = np.arange(125) / 62.5
    x = 3.0 * np.sin(2 * np.pi * 4 * t) + 1.5 * np.sin(2 * np.pi * 12 * t) + 0.6 * np.sin(2 * np.pi * 20 * t)
    windows = np.stack([x, 0.5 * x[::-1]], axis=1)[None].astype(np.float32)
    c_out = run(build(spec, tmp_path), windows, n_features(spec))
    py = apply_impulse(spec, windows)
    assert_twin_close(c_out, py)
    assert np.count_nonzero(py[0, 1:11:2]) >= 3  # at least three peaks found
    swapped = py.copy()
    swapped[:, 1:3], swapped[:, 3:5] = py[:, 3:5], py[:, 1:3]
    assert not np.allclose(c_out, swapped, rtol=1e-4, atol=1e-4 * float(np.abs(py).max()))


def test_flat_axes_give_the_same_features_in_c(tmp_path: Path) -> None:
    """A constant axis leaves numpy's rounding residue after the mean is removed; the twin sums the same way."""
    blocks = [{"type": "spectral-analysis", "name": f"v{v}", "params": {"fft-length": 32}, "implementation_version": v}
              for v in (1, 2, 4)]
    blocks.append({"type": "spectral-analysis", "name": "v4-low", "implementation_version": 4,
                   "params": {"filter-type": "low", "filter-cutoff": 5.0, "fft-length": 16}})
    spec = spec_of({"window_size_ms": 3000, "frequency_hz": 50, "axes": ["x", "y", "z"]}, blocks)
    windows = np.zeros((3, 150, 3), dtype=np.float32)
    windows[:, :, 0] = np.float32(9.81)
    windows[1, :, 1] = np.float32(-0.37)
    windows[2, :, 2] = np.sin(np.arange(150) * np.float32(0.9))
    c_out = run(build(spec, tmp_path), windows, n_features(spec))
    py = apply_impulse(spec, windows)
    assert np.all(np.isfinite(py))
    assert np.any(py == -3.0)  # a flat axis' kurtosis (Edge Impulse's pinned scipy)
    start = 0
    for b in spec.blocks:
        w = n_features(spec_of({"window_size_ms": 3000, "frequency_hz": 50, "axes": ["x", "y", "z"]}, [b.to_dict()]))
        assert_twin_close(c_out[:, start:start + w], py[:, start:start + w])
        start += w
