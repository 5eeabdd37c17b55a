"""The float32 C twin of spectrogram / mfe / mfcc matches the Python blocks within 1e-4 relative.

Cases cover: frames longer than the FFT (truncated) and shorter (zero-padded), hann / hamming / no window,
both filterbank styles, limited mel ranges, pre-emphasis on and off, cepstral normalisation with a window
wider than the clip (numpy 'symmetric' padding wraps) and off, several axes, an audio block next to a
motion block, and FFT lengths from 16 to 1024. Signals are tones plus broadband noise, as real audio: in
bands holding only float32 rounding noise neither implementation is meaningful. Tolerance rule in
``dsp_c_helpers``. One case (with a wavelet block too) also runs under AddressSanitizer + UBSan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dsp_c_helpers import assert_twin_close, build, run, spec_of

from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.dsp.pipeline import apply_impulse, n_features

MIC_1S = {"window_size_ms": 1000, "frequency_hz": 16000, "axes": ["audio"]}
MIC_HALF = {"window_size_ms": 500, "frequency_hz": 8000, "axes": ["audio"]}
IMU = {"window_size_ms": 2000, "frequency_hz": 100, "axes": ["x", "y", "z"]}

CASES = {
    "mfcc-default-16k": (MIC_1S, [{"type": "mfcc"}]),
    "mfe-default-16k": (MIC_1S, [{"type": "mfe"}]),
    "spectrogram-default-8k": (MIC_HALF, [{"type": "spectrogram"}]),
    "mfcc-bins-hamming-band": (MIC_HALF, [{"type": "mfcc", "params": {
        "filterbank": "bins", "window": "hamming", "win_size": 0, "fft_length": 512, "num_filters": 26,
        "num_cepstral": 12, "low_frequency": 300, "high_frequency": 3400, "pre_cof": 0.97}}]),
    "mfcc-1024-zero-padded-cmvn": (MIC_HALF, [{"type": "mfcc", "params": {
        "fft_length": 1024, "frame_length": 0.064, "frame_stride": 0.016, "pre_cof": 0.0, "win_size": 7,
        "num_filters": 40, "num_cepstral": 20}}]),
    "mfe-bins-none-window": (MIC_HALF, [{"type": "mfe", "params": {
        "filterbank": "bins", "window": "none", "num_filters": 32, "fft_length": 512, "frame_length": 0.032,
        "frame_stride": 0.032, "noise_floor_db": -72, "low_frequency": 100}}]),
    "imu-axes-mixed": (IMU, [{"type": "spectrogram", "axes": ["x", "z"], "params": {
                                 "frame_length": 0.16, "frame_stride": 0.08, "fft_length": 16}},
                             {"type": "mfe", "params": {"frame_length": 0.32, "frame_stride": 0.16,
                                                        "fft_length": 32, "num_filters": 8}},
                             {"type": "flatten", "axes": ["y"]}]),
}


def _windows(spec: ImpulseSpec, n: int, seed: int) -> np.ndarray:
    inp = spec.input
    rng = np.random.default_rng(seed)
    fs = float(inp.frequency_hz)  # type: ignore[union-attr]
    wl, na = int(inp.window_len), len(inp.axes)  # type: ignore[union-attr]
    t = np.arange(wl) / fs
    tones = rng.uniform(0.02, 0.4, (n, 1, na)) * fs
    amp = rng.uniform(0.1, 0.8, (n, 1, na))
    x = amp * np.sin(2 * np.pi * tones * t[None, :, None]) + 0.05 * rng.standard_normal((n, wl, na))
    return x.astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_audio_twin_matches_python(case: str, tmp_path: Path) -> None:
    spec = spec_of(*CASES[case])
    windows = _windows(spec, 3, sorted(CASES).index(case))
    exe = build(spec, tmp_path)
    assert_twin_close(run(exe, windows, n_features(spec)), apply_impulse(spec, windows))


def test_audio_twin_under_sanitizers(tmp_path: Path) -> None:
    spec = spec_of(MIC_HALF, [{"type": "mfcc", "params": {"win_size": 11, "fft_length": 128}},
                              {"type": "spectrogram", "params": {"fft_length": 64}},
                              {"type": "spectral-analysis", "params": {"analysis-type": "wavelet", "wavelet-level": 3,
                                                                       "filter-type": "low", "filter-cutoff": 2000}}])
    windows = _windows(spec, 2, 99)
    exe = build(spec, tmp_path, sanitize=True)
    assert_twin_close(run(exe, windows, n_features(spec)), apply_impulse(spec, windows))


def test_audio_twin_silence_and_constant() -> None:
    """Silence gives the floors exactly (mfe 0, mfcc -100 dB cepstra normalised to 0) in C as in Python."""
    import tempfile

    spec = spec_of(MIC_HALF, [{"type": "mfe"}, {"type": "mfcc", "params": {"win_size": 0}}])
    windows = np.zeros((1, 4000, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory() as d:
        c_out = run(build(spec, Path(d)), windows, n_features(spec))
    py = apply_impulse(spec, windows)
    np.testing.assert_array_equal(c_out[:, : n_features(spec_of(MIC_HALF, [{"type": "mfe"}]))], 0.0)
    np.testing.assert_allclose(c_out, py, rtol=1e-5, atol=1e-4)


def test_tables_are_sparse_and_headers_state_ram() -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    files = render_dsp_c(spec_of(MIC_1S, [{"type": "mfcc"}]), prefix="kws")
    src, hdr = files["kws_dsp.c"], files["kws_dsp.h"]
    assert "static const float FBW_0[" in src and "static const float DCT_0[416]" in src
    n_weights = int(src.split("static const float FBW_0[")[1].split("]")[0])
    assert n_weights < 2 * 129  # each bin lies in at most two triangles
    # s_re/s_im (128 each) + s_p (129) + s_mel (32) + s_cep (50 frames x 13) floats
    assert "#define KWS_DSP_STATIC_BYTES " + str(4 * (128 + 128 + 129 + 32 + 50 * 13)) in hdr
    assert "malloc" not in src and "stdio" not in src
