"""The DSP C twin against independent references: its generated tables and its outputs.

``test_dsp_c*.py`` compare the twin with the Python blocks its tables are generated from, so a wrong
constant in those (a Hamming 0.46 -> 0.44) would pass them. Here the tables emitted into the C source are
parsed and compared with scipy / librosa / python_speech_features / pywt, and the compiled twin's features
are compared with the reference pipelines of ``dsp_references`` (librosa, python_speech_features, scipy,
Pillow) — no ``crisp_eml`` function computes any expected value.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from dsp_c_helpers import build, run, spec_of

from crisp_eml.compiler.dsp_c import render_dsp_c
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.dsp.pipeline import n_features
from dsp_references import CASES, FS, INPUT, assert_matches_reference, pillow_gray, reference, signal

NAMES = sorted(CASES)
AUDIO_SPEC = {"input": INPUT, "blocks": [{**CASES[c], "name": c} for c in NAMES]}  # block i = NAMES[i]


def tables(source: str) -> dict[str, np.ndarray]:
    """Every ``static const float|unsigned short NAME[n] = {...};`` of a generated C file."""
    out = {}
    for m in re.finditer(r"static const (float|unsigned short) (\w+)\[(\d+)\] = \{([^}]*)\};", source):
        kind, name, n, body = m.groups()
        vals = [v.strip().rstrip("f") for v in body.split(",")]
        out[name] = np.array(vals, np.float64 if kind == "float" else np.int64)
        assert out[name].size == int(n), name
    return out


def dense_filterbank(rows: np.ndarray, weights: np.ndarray, bins: int) -> np.ndarray:
    """The twin's sparse filter rows ((first bin, count) per filter + weights) as ``[filters, bins]``."""
    fb = np.zeros((rows.size // 2, bins))
    at = 0
    for m, (first, count) in enumerate(rows.reshape(-1, 2)):
        fb[m, first:first + count] = weights[at:at + count]
        at += count
    assert at == weights.size
    return fb


def test_audio_tables_equal_scipy_librosa_psf() -> None:
    import librosa
    import scipy.fft
    from python_speech_features import get_filterbanks
    from scipy.signal import get_window

    src = render_dsp_c(ImpulseSpec.from_dict(AUDIO_SPEC), prefix="ref")["ref_dsp.c"]
    t = tables(src)
    for i, case in enumerate(NAMES):
        p = CASES[case]["params"]
        f, n = round(p["frame_length"] * FS), int(p["fft_length"])
        if p["window"] == "none":
            assert f"WIN_{i}" not in t, case
        else:
            np.testing.assert_allclose(t[f"WIN_{i}"], get_window(p["window"], f, fftbins=True)[:min(f, n)],
                                       rtol=0, atol=1e-7, err_msg=case)
        if CASES[case]["type"] == "spectrogram":
            continue
        m = int(p["num_filters"])
        lo, hi = float(p.get("low_frequency", 0.0)), float(p.get("high_frequency") or FS / 2)
        if p.get("filterbank", "continuous") == "bins":
            ref = get_filterbanks(nfilt=m, nfft=n, samplerate=FS, lowfreq=lo, highfreq=hi)
        else:
            ref = librosa.filters.mel(sr=FS, n_fft=n, n_mels=m, fmin=lo, fmax=hi, htk=True, norm=None,
                                      dtype=np.float64)
        fb = dense_filterbank(t[f"FB_{i}"], t[f"FBW_{i}"], n // 2 + 1)
        np.testing.assert_allclose(fb, ref, rtol=0, atol=1e-7, err_msg=case)
        if CASES[case]["type"] == "mfcc":
            q = int(p["num_cepstral"])
            dct = scipy.fft.dct(np.eye(m), type=2, norm="ortho", axis=1)[:, :q].T  # [q, m]: DCT_i[q * M + m]
            np.testing.assert_allclose(t[f"DCT_{i}"].reshape(q, m), dct, rtol=0, atol=1e-7, err_msg=case)
    fft_max = int(re.search(r"#define FFT_MAX (\d+)", src).group(1))  # type: ignore[union-attr]
    tw = np.exp(-2j * np.pi * np.arange(fft_max // 2) / fft_max)
    np.testing.assert_allclose(t["TW_COS"], tw.real, rtol=0, atol=1e-7)
    np.testing.assert_allclose(t["TW_SIN"], tw.imag, rtol=0, atol=1e-7)


def test_audio_twin_outputs_match_independent_pipelines(tmp_path: Path) -> None:
    spec = ImpulseSpec.from_dict(AUDIO_SPEC)
    signals = [signal(11), signal(12)]
    refs = [[reference(c, x) for c in NAMES] for x in signals]
    assert sum(r.size for r in refs[0]) == n_features(spec)
    out = run(build(spec, tmp_path), np.stack(signals)[..., None], n_features(spec))
    for row, ref in zip(out, refs, strict=True):
        at = 0
        for case, r in zip(NAMES, ref, strict=True):
            assert_matches_reference(case, row[at:at + r.size].reshape(r.shape), r)
            at += r.size


@pytest.mark.parametrize("btype", ["low", "high"])
def test_spectral_tables_equal_scipy_butter_and_pywt(btype: str) -> None:
    import pywt
    from scipy.signal import butter

    fs = 100.0
    fft = {"filter-type": btype, "filter-cutoff": 12.5, "filter-order": 6}
    dwt = {"analysis-type": "wavelet", "wavelet": "db4", "wavelet-level": 2}
    spec = spec_of({"window_size_ms": 2000, "frequency_hz": fs, "axes": ["x", "y"]},
                   [{"type": "spectral-analysis", "name": "fft", "params": fft},
                    {"type": "spectral-analysis", "name": "dwt", "params": dwt}])
    t = tables(render_dsp_c(spec, prefix="ref")["ref_dsp.c"])
    sos = butter(6, 12.5, btype="lowpass" if btype == "low" else "highpass", fs=fs, output="sos")
    np.testing.assert_allclose(t["SOS_0"].reshape(-1, 6), sos, rtol=1e-6, atol=1e-7)
    w = pywt.Wavelet("db4")
    np.testing.assert_allclose(t["WLO_1"], w.dec_lo, rtol=0, atol=1e-7)
    np.testing.assert_allclose(t["WHI_1"], w.dec_hi, rtol=0, atol=1e-7)


def test_image_twin_grayscale_equals_pillow(tmp_path: Path) -> None:
    spec = ImpulseSpec.from_dict({"input": {"type": "image", "width": 12, "height": 16, "channels": "RGB"},
                                  "blocks": [{"type": "image", "params": {"channels": "Grayscale"}}]})
    rng = np.random.default_rng(6)
    rgb = rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)
    rgb[0, :3] = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]  # each weight alone
    out = run(build(spec, tmp_path), rgb.reshape(1, -1).astype(np.float32), n_features(spec))
    np.testing.assert_allclose(out[0].reshape(16, 12), pillow_gray(rgb), rtol=0, atol=0.5 / 255 + 1e-6)
