"""The float32 C twin of Edge Impulse's spectral-analysis in Wavelet mode (v3 / v4) matches Python.

Each case renders C with ``crisp_eml.compiler.dsp_c`` (Wavelet mode goes to
``crisp_eml.compiler.dsp_c.ei_wavelet.render_ei_wavelet``), compiles it with gcc (``-std=c99 -Wall -Wextra
-Werror -pedantic``) and the file-in/file-out harness of ``dsp_c_helpers``, runs it on synthetic motion
windows and compares with ``apply_impulse`` (tolerance rule in ``dsp_c_helpers``). The Python side is the
Edge Impulse spectral class, so the module is skipped until ``crisp_eml.dsp.ei_spectral`` exists.

The entropy feature counts coefficients per histogram bin: a coefficient that differs by an ulp across a bin
edge moves the entropy by ~1/m. The float32 path is bit-exact by construction (see the renderer's docstring),
so every case here must match; the decimated (float64 in Edge Impulse) path differs by ~1e-7 of the signal
and could, on some input, put one coefficient across an edge (not seen on these inputs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dsp_c_helpers import assert_twin_close, build, run, spec_of

pytest.importorskip("crisp_eml.dsp.ei_spectral")

from crisp_eml.dsp.pipeline import apply_impulse, n_features  # noqa: E402

ACC = ["accX", "accY", "accZ"]


def _wavelet(version: int, **params: Any) -> dict[str, Any]:
    return {"type": "spectral-analysis", "implementation_version": version,
            "params": {"analysis-type": "Wavelet", **params}}


CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "v4-db4-l1": ({"window_size_ms": 2000, "frequency_hz": 62.5, "axes": ACC},
                  [_wavelet(4, wavelet="db4", **{"wavelet-level": 1})]),
    "v3-haar-l3-scaled": ({"window_size_ms": 4000, "frequency_hz": 100, "axes": ACC},
                          [_wavelet(3, wavelet="haar", **{"wavelet-level": 3, "scale-axes": 2.5})]),
    "v4-sym5-l2-low": ({"window_size_ms": 2000, "frequency_hz": 100, "axes": ACC},
                       [_wavelet(4, wavelet="sym5", **{"wavelet-level": 2, "filter-type": "low",
                                                       "filter-cutoff": 5.0, "filter-order": 6})]),
    "v4-coif2-l1-high": ({"window_size_ms": 2000, "frequency_hz": 62.5, "axes": ACC[:2]},
                         [_wavelet(4, wavelet="coif2", **{"wavelet-level": 1, "filter-type": "high",
                                                          "filter-cutoff": 2.0, "filter-order": 4})]),
    "v3-bior3.5-l2-one-axis": ({"window_size_ms": 3000, "frequency_hz": 50, "axes": ACC},
                               [{**_wavelet(3, wavelet="bior3.5", **{"wavelet-level": 2}), "axes": ["accY"]}]),
    "v4-db10-l3-level0-pair": ({"window_size_ms": 3000, "frequency_hz": 100, "axes": ACC},
                               [_wavelet(4, wavelet="db10", **{"wavelet-level": 3}),
                                {**_wavelet(4, wavelet="rbio2.2", **{"wavelet-level": 0}), "name": "w0"}]),
    "v4-ratio3-db4-l2": ({"window_size_ms": 10000, "frequency_hz": 100, "axes": ACC},
                         [_wavelet(4, wavelet="db4", **{"wavelet-level": 2, "input-decimation-ratio": 3})]),
    "v4-ratio30-haar-l1-low": ({"window_size_ms": 20000, "frequency_hz": 100, "axes": ACC[:1]},
                               [_wavelet(4, wavelet="haar", **{"wavelet-level": 1, "input-decimation-ratio": 30,
                                                               "filter-type": "low", "filter-cutoff": 1.0,
                                                               "filter-order": 2})]),
}


def _motion(n_windows: int, length: int, fs: float, n_axes: int, seed: int) -> np.ndarray:
    """Accelerometer-like windows: a few tones per axis, an offset (gravity on one axis) and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / fs
    f = rng.uniform(0.5, fs / 5, (n_windows, 3, n_axes))
    amp = rng.uniform(0.3, 6.0, (n_windows, 3, n_axes))
    x = sum(amp[:, k, None, :] * np.sin(2 * np.pi * f[:, k, None, :] * t[None, :, None]
                                        + rng.uniform(0, 6, (n_windows, 1, n_axes))) for k in range(3))
    x = x + rng.normal(0, 0.5, (n_windows, length, n_axes)) + np.array([0.4, -1.2, 9.81])[None, None, :n_axes]
    return np.asarray(np.round(x * 1024) / 1024, dtype=np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_twin_matches_python(case: str, tmp_path: Path) -> None:
    spec = spec_of(*CASES[case])
    inp = spec.input
    windows = _motion(5, inp.window_len, inp.frequency_hz, len(inp.axes), sorted(CASES).index(case))  # type: ignore[union-attr]
    py = apply_impulse(spec, windows)
    assert py.shape == (5, n_features(spec)) and np.all(np.isfinite(py))
    c_out = run(build(spec, tmp_path, sanitize=case == "v4-ratio3-db4-l2"), windows, n_features(spec))
    assert_twin_close(c_out, py)


def _all_wavelets() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One block per Edge Impulse wavelet (level 1, alternating axes and filters): one compile for all 50."""
    from crisp_eml.dsp.ei_wavelet import WAVELETS

    filters: list[dict[str, Any]] = [{}, {"filter-type": "high", "filter-cutoff": 2.0, "filter-order": 4},
                                     {"filter-type": "low", "filter-cutoff": 8.0, "filter-order": 2}]
    blocks = [{**_wavelet(3 + i % 2, wavelet=w, **{"wavelet-level": 1 + i % 2, **filters[i % 3]}),
               "name": f"w{i}", "axes": [ACC[i % 3]]} for i, w in enumerate(WAVELETS)]
    return {"window_size_ms": 2500, "frequency_hz": 62.5, "axes": ACC}, blocks


@pytest.mark.parametrize("case", ["v4-sym5-l2-low", "all-wavelets"])
def test_float32_path_is_bit_exact(case: str, tmp_path: Path) -> None:
    """Without decimation the C twin repeats Edge Impulse's float32 operations in order: every feature but the
    entropy (summed in float in C, float64 in Python) is identical, so the coefficients are; the entropy is
    within 1e-6 relative."""
    spec = spec_of(*(_all_wavelets() if case == "all-wavelets" else CASES[case]))
    windows = _motion(8, spec.input.window_len, spec.input.frequency_hz, 3, 99)  # type: ignore[union-attr]
    c_out = run(build(spec, tmp_path), windows, n_features(spec))
    py = apply_impulse(spec, windows)
    entropy = np.arange(py.shape[1]) % 14 == 0
    np.testing.assert_array_equal(c_out[:, ~entropy], py[:, ~entropy])
    np.testing.assert_allclose(c_out[:, entropy], py[:, entropy], rtol=1e-6)


def test_constant_axis(tmp_path: Path) -> None:
    """A constant axis leaves float32 rounding noise after the mean removal (9.81 - mean32 != 0): features of
    noise, but Edge Impulse's (kurtosis -3 where float32 m2 * m2 underflows), finite, and the same in C."""
    spec = spec_of(*CASES["v4-db4-l1"])
    windows = _motion(2, spec.input.window_len, spec.input.frequency_hz, 3, 7)  # type: ignore[union-attr]
    windows[:, :, 2] = 9.81
    py = apply_impulse(spec, windows)
    assert np.all(np.isfinite(py))
    assert py[0, 2 * 28 + 14 + 13] == -3.0  # cD1 of the constant axis
    c_out = run(build(spec, tmp_path), windows, n_features(spec))
    assert_twin_close(c_out, py)


def test_bands_in_wavedec_order_and_features_in_edge_impulse_order(tmp_path: Path) -> None:
    """Swapping two bands, or two features within a band, breaks the match (no accidental pass)."""
    spec = spec_of(*CASES["v4-sym5-l2-low"])
    windows = _motion(3, spec.input.window_len, spec.input.frequency_hz, 3, 5)  # type: ignore[union-attr]
    c_out = run(build(spec, tmp_path), windows, n_features(spec))
    py = apply_impulse(spec, windows)
    assert_twin_close(c_out, py)
    tol = {"rtol": 1e-4, "atol": 1e-4 * float(np.abs(py).max())}
    swapped = py.copy()
    swapped[:, 14:28], swapped[:, 28:42] = py[:, 28:42], py[:, 14:28]
    assert not np.allclose(c_out, swapped, **tol)
    swapped = py.copy()
    swapped[:, 3], swapped[:, 7] = py[:, 7], py[:, 3]  # n5 <-> median
    assert not np.allclose(c_out, swapped, **tol)
