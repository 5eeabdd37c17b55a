"""The float32 C twin of the motion blocks (raw / flatten / spectral FFT + wavelet) matches Python within 1e-4 rel.

Each case renders C with ``crisp_eml.compiler.dsp_c``, compiles it with gcc (``-std=c99 -Wall -Wextra
-Werror -pedantic``) together with a tiny file-in/file-out harness, runs it on random windows and compares
with ``apply_impulse`` (tolerance rule in ``dsp_c_helpers``). A missing gcc fails the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dsp_c_helpers import assert_twin_close, build, run, spec_of

from crisp_eml.dsp.pipeline import apply_impulse, n_features

CASES = {
    "basic-motions-like": ({"window_size_ms": 2000, "frequency_hz": 10, "axes": ["ax", "ay", "az"]},
                           [{"type": "spectral-analysis", "params": {"filter-type": "low", "filter-cutoff": 3.0,
                                                                     "filter-order": 6, "fft-length": 16}},
                            {"type": "flatten"}, {"type": "raw", "axes": ["ay"], "params": {"scale-axes": 0.5}}]),
    "highpass-peaks-edges": ({"window_size_ms": 1000, "frequency_hz": 100, "axes": ["x", "y"]},
                             [{"type": "spectral-analysis", "axes": ["y"],
                               "params": {"filter-type": "high", "filter-cutoff": 5.0, "filter-order": 4,
                                          "fft-length": 64, "do-fft-overlap": False, "spectral-peaks-count": 3,
                                          "spectral-peaks-threshold": 0.0,
                                          "spectral-power-edges": [0, 5, 20, 50]}}]),
    "no-log-zero-padded": ({"window_size_ms": 500, "frequency_hz": 40, "axes": ["x"]},
                           [{"type": "spectral-analysis", "params": {"fft-length": 32, "do-log": False,
                                                                     "scale-axes": 3.0}},
                            {"type": "flatten", "params": {"kurtosis": False, "minimum": False}}]),
    "wavelet-db4-lowpass": ({"window_size_ms": 2000, "frequency_hz": 100, "axes": ["x", "y", "z"]},
                            [{"type": "spectral-analysis", "params": {
                                "analysis-type": "wavelet", "wavelet": "db4", "wavelet-level": 2,
                                "filter-type": "low", "filter-cutoff": 20.0, "filter-order": 4}}]),
    "wavelet-haar-deep-short": ({"window_size_ms": 2000, "frequency_hz": 10, "axes": ["x", "y"]},
                                [{"type": "spectral-analysis", "axes": ["y"], "params": {
                                    "analysis-type": "wavelet", "wavelet": "haar", "wavelet-level": 4,
                                    "scale-axes": 2.0}},
                                 {"type": "spectral-analysis", "name": "w2", "axes": ["x"], "params": {
                                     "analysis-type": "wavelet", "wavelet": "sym5", "wavelet-level": 1,
                                     "filter-type": "high", "filter-cutoff": 1.0, "filter-order": 2}}]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_twin_matches_python(case: str, tmp_path: Path) -> None:
    spec = spec_of(*CASES[case])
    exe = build(spec, tmp_path)
    inp = spec.input
    rng = np.random.default_rng(sorted(CASES).index(case))
    t = np.arange(inp.window_len) / inp.frequency_hz  # type: ignore[union-attr]
    n_axes = len(inp.axes)
    windows = (np.sin(2 * np.pi * rng.uniform(0.5, 15, (6, 1, n_axes)) * t[None, :, None])
               + 0.3 * rng.standard_normal((6, len(t), n_axes)) + rng.uniform(-2, 2, (6, 1, n_axes)))
    windows = windows.astype(np.float32)
    assert_twin_close(run(exe, windows, n_features(spec)), apply_impulse(spec, windows))


def test_wavelet_twin_writes_bands_in_wavedec_order() -> None:
    """cA_L first, then cD_L .. cD_1: swapping two bands' features must break the match (no accidental pass)."""
    import tempfile

    spec = spec_of(*CASES["wavelet-db4-lowpass"])
    rng = np.random.default_rng(5)
    windows = rng.standard_normal((2, 200, 3)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        c_out = run(build(spec, Path(d)), windows, n_features(spec))
    py = apply_impulse(spec, windows)
    assert_twin_close(c_out, py)
    swapped = py.copy()
    swapped[:, 14:28], swapped[:, 28:42] = py[:, 28:42], py[:, 14:28]
    assert not np.allclose(c_out, swapped, rtol=1e-4, atol=1e-4 * float(np.abs(py).max()))
