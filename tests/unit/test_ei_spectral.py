"""Edge Impulse's spectral-analysis versions 1-4 (FFT) match Edge Impulse's own outputs; refusals name fields.

The golden vectors (``tests/data/ei_golden/spectral-analysis.json.gz``, made offline by
``scripts/gen_ei_golden.py`` from Edge Impulse's processing blocks) hold EI's features or EI's error for every
case; wavelet-mode cases belong to the wavelet tests. The crisp-eml variant (no version) must stay unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.ei_signal import peak_indexes
from crisp_eml.dsp.ei_spectral import EISpectralAnalysisBlock
from crisp_eml.dsp.registry import make_block
from crisp_eml.dsp.spectral import SpectralAnalysisBlock
from ei_golden import Case, assert_features_close, load_cases


def _fft_cases() -> list[Case]:
    return [c for c in load_cases("spectral-analysis")
            if not (c.version >= 3 and c.params["analysis-type"] == "Wavelet")]


FFT_CASES = _fft_cases()


def test_the_golden_file_covers_every_version_decimation_and_extra_low_freq() -> None:
    assert {c.version for c in FFT_CASES} == {1, 2, 3, 4}
    ok = [c for c in FFT_CASES if c.features is not None]
    assert any(c.params["input-decimation-ratio"] != 1 for c in ok if c.version == 4)
    assert any(c.params["extra-low-freq"] for c in ok if c.version == 4)
    assert sum(c.error is not None for c in FFT_CASES) >= 10


@pytest.mark.parametrize("case", FFT_CASES, ids=[c.id for c in FFT_CASES])
def test_features_match_edge_impulse(case: Case) -> None:
    block = make_block("spectral-analysis", case.params, case.version)
    assert isinstance(block, EISpectralAnalysisBlock)
    _, length, n_axes = case.window.shape
    if case.error is not None:
        with pytest.raises(InputError) as exc:
            block.validate(length, n_axes, case.sampling_freq)
        assert exc.value.field in {"fft-length", "filter-order", "filter-cutoff", "input-decimation-ratio",
                                   "extra-low-freq"}
        return
    block.validate(length, n_axes, case.sampling_freq)
    out = block.transform(case.window, case.sampling_freq)
    assert out.dtype == np.float32
    assert out.shape == (1, *block.output_shape(length, n_axes, case.sampling_freq))
    assert len(block.feature_names(list(case.axes), case.sampling_freq)) == out.shape[1]
    assert case.output_config is not None and case.output_config["shape"]["width"] == out.shape[1]
    assert_features_close(out[0], case.features, case.id)


def test_many_windows_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 300, 2)).astype(np.float32)
    for v, extra in [(1, {}), (2, {"filter-type": "low", "filter-cutoff": 8.0}),
                     (4, {"extra-low-freq": True, "filter-type": "high", "filter-cutoff": 2.0, "fft-length": 16}),
                     (4, {"input-decimation-ratio": 3, "fft-length": 32})]:
        b = make_block("spectral-analysis", extra, v)
        together = b.transform(w, 50.0)
        alone = np.concatenate([b.transform(w[i:i + 1], 50.0) for i in range(len(w))])
        np.testing.assert_allclose(together, alone, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("version", "params", "field", "words"), [
    (2, {"fft-length": 20}, "fft-length", "power of two"),
    (4, {"filter-type": "low", "filter-order": 3}, "filter-order", "even"),
    (4, {"filter-type": "high", "filter-order": 10}, "filter-order", "even"),
    (2, {"filter-type": "low", "filter-cutoff": 40.0}, "filter-cutoff", "Nyquist"),
    (1, {"filter-type": "low", "filter-cutoff": -1.0}, "filter-cutoff", "> 0"),
    (3, {"filter-type": "low", "filter-cutoff": 0.1, "filter-order": 0}, "filter-cutoff", "no FFT bin"),
    (3, {"input-decimation-ratio": 3}, "input-decimation-ratio", "version 4"),
    (4, {"input-decimation-ratio": 7}, "input-decimation-ratio", "one of"),
    (4, {"input-decimation-ratio": 10, "filter-type": "low", "filter-cutoff": 3.0}, "input-decimation-ratio",
     "Nyquist"),
    (4, {"extra-low-freq": True, "fft-length": 64}, "extra-low-freq", "at least 320"),
    (2, {"analysis-type": "wavelet"}, "analysis-type", "one of"),
    (1, {"spectral-power-edges": "0.1, fast"}, "spectral-power-edges", "comma-separated"),
    (1, {"spectral-peaks-count": -1}, "spectral-peaks-count", ">= 0"),
])
def test_refusals_name_the_parameter(version: int, params: dict, field: str, words: str) -> None:
    b = make_block("spectral-analysis", params, version)
    with pytest.raises(InputError, match=words) as exc:
        b.validate(125, 3, 62.5)
    assert exc.value.field == field


def test_every_edge_impulse_parameter_is_accepted_at_every_version_with_its_default() -> None:
    names = ["scale-axes", "input-decimation-ratio", "filter-type", "filter-cutoff", "filter-order", "analysis-type",
             "fft-length", "spectral-peaks-count", "spectral-peaks-threshold", "spectral-power-edges", "do-log",
             "do-fft-overlap", "wavelet-level", "wavelet", "extra-low-freq"]
    assert sorted(EISpectralAnalysisBlock.defaults) == sorted(names)
    # Edge Impulse's tools send underscored names and string values
    b = make_block("spectral-analysis", {"input_decimation_ratio": "1", "do_log": "false", "fft_length": "32"}, 2)
    assert b.params["input-decimation-ratio"] == 1 and b.params["do-log"] is False and b.params["fft-length"] == 32


def test_the_crisp_variant_is_unchanged() -> None:
    p = {"filter-type": "low", "filter-cutoff": 3.0, "filter-order": 6, "fft-length": 16}
    crisp = make_block("spectral-analysis", p)
    assert type(crisp) is SpectralAnalysisBlock
    w = np.random.default_rng(2).normal(size=(3, 125, 3)).astype(np.float32)
    np.testing.assert_array_equal(crisp.transform(w, 62.5), SpectralAnalysisBlock(p).transform(w, 62.5))
    assert crisp.output_shape(125, 3, 62.5) != make_block("spectral-analysis", p, 4).output_shape(125, 3, 62.5)


def test_a_flat_axis_gives_edge_impulse_pinned_scipy_values_not_nan() -> None:
    w = np.zeros((1, 100, 2), dtype=np.float32)
    w[0, :, 0] = 2.5
    w[0, :, 1] = np.sin(np.arange(100) * 0.7)
    b = make_block("spectral-analysis", {}, 4)
    out = b.transform(w, 50.0)[0]
    per = out.size // 2
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1:5], [0.0, -3.0, 0.0, -3.0])  # skew, kurt, spectral skew, kurt
    np.testing.assert_array_equal(out[5:per], -10.0)  # log10 of the exact-zero floor 1e-10
    assert out[per + 1] != 0.0


@pytest.mark.parametrize(("v", "expected"), [
    ([0, 1, 0], [1]),
    ([0, 1, 1, 0], [1]),  # even plateau: its right half starts at its middle
    ([0, 1, 1, 1, 0], [2]),  # odd plateau: the middle sample
    ([1, 1, 0, 2, 0], [3]),  # a plateau at the start takes the slope after it
    ([0, 2, 1, 1], [1]),  # a plateau at the end takes the slope before it
    ([3, 3, 3], []),
    ([0, 1, 0, 1, 0], [1, 3]),
    ([5, 1, 5], []),  # the ends are never peaks
])
def test_peaks_follow_peakutils_semantics(v: list[float], expected: list[int]) -> None:
    assert peak_indexes(np.asarray(v, dtype=np.float64)) == expected


def test_v1_peaks_are_sorted_by_height_thresholded_and_padded() -> None:
    fs, n = 64.0, 64
    t = np.arange(n) / fs
    x = 3.0 * np.sin(2 * np.pi * 4 * t) + 1.0 * np.sin(2 * np.pi * 12 * t) + 0.05 * np.sin(2 * np.pi * 20 * t)
    b = make_block("spectral-analysis", {"fft-length": 64, "spectral-peaks-count": 4,
                                         "spectral-peaks-threshold": 0.5, "spectral-power-edges": "0, 32"}, 1)
    out = b.transform(x.astype(np.float32).reshape(1, n, 1), fs)[0]
    spacing = (fs / 2) / (n // 2 - 1)  # Edge Impulse's linspace frequency axis
    np.testing.assert_allclose(out[1:5], [4 * spacing, 3.0, 12 * spacing, 1.0], rtol=1e-4)
    np.testing.assert_array_equal(out[5:9], 0.0)  # the 20 Hz peak is below the threshold
    assert b.feature_names(["x"], fs)[:3] == ["x RMS", "x Peak 1 Freq", "x Peak 1 Height"]


def test_extra_low_freq_features_follow_all_axes_main_features() -> None:
    b = make_block("spectral-analysis", {"extra-low-freq": True, "fft-length": 16}, 4)
    names = b.feature_names(["x", "y"], 100.0)
    assert len(names) == b.output_shape(1000, 2, 100.0)[0] == 2 * (5 + 8) * 2
    assert names[0] == "x RMS" and names[13] == "y RMS" and names[26] == "x RMS LF" and names[-1].endswith(" LF")
    assert names[5] == "x Spectral Power 3.12 - 9.38 Hz"
