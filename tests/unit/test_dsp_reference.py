"""DSP blocks against independent references: librosa, python_speech_features, scipy, numpy.

Parameter mappings (ours -> reference) are spelled out in each test; tolerances are relative to the
largest magnitude of the reference (float32 arithmetic on our side).
"""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.dsp.registry import make_block

RTOL = 1e-4


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) / np.max(np.abs(b)))


def audio(seconds: float = 0.5, fs: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t) + 0.05 * rng.standard_normal(t.size)
    return x.astype(np.float32)


# -- mel / mfcc vs librosa --------------------------------------------------------------------------------
# ours: P = |X|^2 / N, librosa: |X|^2  => feed librosa x / sqrt(N) (exact, since power is quadratic).
# frame_length * fs == fft_length so librosa's (centred-window) frames equal ours; center=False, htk=True,
# norm=None (mel filters), window='hann' (periodic) on both sides.
def test_mfe_energies_match_librosa_melspectrogram() -> None:
    import librosa

    fs, n = 16000, 512
    x = audio()
    blk = make_block("mfe", {"frame_length": n / fs, "frame_stride": 256 / fs, "fft_length": n, "num_filters": 40,
                             "low_frequency": 80.0, "high_frequency": 7600.0})
    blk.validate(x.size, 1, fs)
    ours = blk.mel_energies(x[None, :, None], fs)[0, 0]  # type: ignore[attr-defined]
    ref = librosa.feature.melspectrogram(y=(x / np.sqrt(n)).astype(np.float64), sr=fs, n_fft=n, hop_length=256,
                                         window="hann", center=False, power=2.0, n_mels=40, fmin=80.0, fmax=7600.0,
                                         htk=True, norm=None).T
    assert ours.shape == ref.shape
    assert rel_err(ours, ref) < RTOL


def test_mfcc_matches_librosa_mfcc() -> None:
    import librosa

    fs, n = 16000, 512
    x = audio(seed=1)
    blk = make_block("mfcc", {"frame_length": n / fs, "frame_stride": 256 / fs, "fft_length": n, "num_filters": 32,
                              "num_cepstral": 13, "pre_cof": 0.0, "win_size": 0})
    out = blk.transform(x[None, :, None], fs)[0]
    # librosa: 10*log10(max(S, 1e-10)) (power_to_db, ref=1, top_db=80 inactive here), DCT-II ortho
    ref = librosa.feature.mfcc(y=(x / np.sqrt(n)).astype(np.float64), sr=fs, n_mfcc=13, n_fft=n, hop_length=256,
                               window="hann", center=False, n_mels=32, htk=True, mel_norm=None, fmin=0.0).T
    assert out.shape == ref.shape == blk.output_shape(x.size, 1, fs)
    assert rel_err(out, ref) < RTOL


# -- vs python_speech_features (speechpy/Edge Impulse conventions) ----------------------------------------
# filterbank='bins' = psf.get_filterbanks; window='none' = psf winfunc ones; pre-emphasis identical
# (y[0]=x[0]); psf powspec = |rfft(frame, NFFT)|^2 / NFFT (frames truncated to NFFT like ours).
def test_mfe_matches_python_speech_features_fbank() -> None:
    from python_speech_features import fbank

    fs, n = 16000, 512
    x = audio(seed=2)
    frame, step = 400, 160  # 25 ms / 10 ms: frame shorter than the FFT, zero-padded
    count = 1 + (x.size - frame) // step
    blk = make_block("mfe", {"frame_length": frame / fs, "frame_stride": step / fs, "fft_length": n,
                             "num_filters": 26, "window": "none", "filterbank": "bins"})
    ours = blk.mel_energies(x[None, :, None], fs)[0, 0]  # type: ignore[attr-defined]
    ref, _ = fbank(x.astype(np.float64), samplerate=fs, winlen=frame / fs, winstep=step / fs, nfilt=26, nfft=n,
                   lowfreq=0, highfreq=None, preemph=0.0)
    assert rel_err(ours, ref[:count]) < RTOL


def test_mfcc_matches_python_speech_features_mfcc_up_to_log_base() -> None:
    from python_speech_features import mfcc

    fs, n = 16000, 512
    x = audio(seed=3)
    frame, step = 512, 256
    count = 1 + (x.size - frame) // step
    blk = make_block("mfcc", {"frame_length": frame / fs, "frame_stride": step / fs, "fft_length": n,
                              "num_filters": 26, "num_cepstral": 13, "window": "none", "filterbank": "bins",
                              "pre_cof": 0.97, "win_size": 0})
    out = blk.transform(x[None, :, None], fs)[0]
    # psf: natural log, DCT-II ortho; ours: 10*log10 => ours = psf * 10 / ln(10)
    ref = mfcc(x.astype(np.float64), samplerate=fs, winlen=frame / fs, winstep=step / fs, numcep=13, nfilt=26,
               nfft=n, preemph=0.97, ceplifter=0, appendEnergy=False) * (10.0 / np.log(10.0))
    assert rel_err(out, ref[:count]) < RTOL


def test_mfcc_window_normalisation_matches_speechpy_definition() -> None:
    fs = 16000
    x = audio(seed=4)
    base = {"frame_length": 0.016, "frame_stride": 0.008, "fft_length": 256, "pre_cof": 0.98}
    raw = make_block("mfcc", {**base, "win_size": 0}).transform(x[None, :, None], fs)[0].astype(np.float64)
    norm = make_block("mfcc", {**base, "win_size": 7}).transform(x[None, :, None], fs)[0]
    padded = np.pad(raw, ((3, 3), (0, 0)), mode="symmetric")
    expect = np.stack([raw[i] - padded[i:i + 7].mean(axis=0) for i in range(raw.shape[0])])
    assert rel_err(norm, expect) < 1e-3  # differences of similar numbers: absolute ~1e-5


def test_spectrogram_matches_numpy_definition() -> None:
    fs, n = 8000, 128
    x = audio(0.25, fs, seed=5)
    blk = make_block("spectrogram", {"frame_length": 0.016, "frame_stride": 0.008, "fft_length": n,
                                     "noise_floor_db": -80})
    out = blk.transform(x[None, :, None], fs)[0]
    f, s = 128, 64
    frames = np.stack([x[i * s:i * s + f] for i in range(1 + (x.size - f) // s)]).astype(np.float64)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(f) / f)
    p = np.abs(np.fft.rfft(frames * win, n=n)) ** 2 / n
    db = 10 * np.log10(p + 1e-30)
    ref = np.clip((db + 80) / (80 + 12), 0, 1)
    assert out.shape == ref.shape
    assert np.max(np.abs(out - ref)) < 1e-5


# -- spectral analysis vs scipy ---------------------------------------------------------------------------
@pytest.mark.parametrize("ftype,btype", [("low", "lowpass"), ("high", "highpass")])
def test_spectral_filter_matches_scipy_butter_sosfilt(ftype: str, btype: str) -> None:
    from scipy.signal import butter, sosfilt

    fs = 100.0
    rng = np.random.default_rng(6)
    w = rng.standard_normal((5, 200, 2)).astype(np.float32)
    blk = make_block("spectral-analysis", {"filter-type": ftype, "filter-cutoff": 12.5, "filter-order": 6,
                                           "scale-axes": 2.0})
    ours = blk.filtered(w, fs)  # type: ignore[attr-defined]
    x = 2.0 * w.astype(np.float64).transpose(0, 2, 1)
    x = x - x.mean(axis=-1, keepdims=True)
    ref = sosfilt(butter(6, 12.5, btype=btype, fs=fs, output="sos"), x, axis=-1)
    assert rel_err(ours, ref) < 1e-6


@pytest.mark.parametrize("overlap", [True, False])
def test_spectral_fft_features_match_scipy_welch_and_stats(overlap: bool) -> None:
    from scipy.signal import welch
    from scipy.stats import kurtosis, skew

    fs, n = 50.0, 32
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 128, 3)).astype(np.float32)
    blk = make_block("spectral-analysis", {"fft-length": n, "do-log": False, "do-fft-overlap": overlap})
    out = blk.transform(w, fs).reshape(4, 3, -1)
    x = w.astype(np.float64).transpose(0, 2, 1)
    x = x - x.mean(axis=-1, keepdims=True)
    _, pw = welch(x, fs=fs, window="boxcar", nperseg=n, noverlap=n // 2 if overlap else 0, detrend=False,
                  scaling="spectrum", axis=-1)
    # welch 'spectrum' = 2|X|^2/N^2 for 0<k<N/2 and |X|^2/N^2 at N/2; ours |X|^2/N (bins 1..N/2)
    ref_p = pw[..., 1:] * n
    ref_p[..., :-1] /= 2
    np.testing.assert_allclose(out[..., 3:], ref_p, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(out[..., 0], np.sqrt((x ** 2).mean(axis=-1)), rtol=1e-5)
    np.testing.assert_allclose(out[..., 1], skew(x, axis=-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out[..., 2], kurtosis(x, axis=-1), rtol=1e-4, atol=1e-6)


def test_spectral_peaks_and_power_edges() -> None:
    fs, n = 64.0, 64
    t = np.arange(128) / fs
    x = (np.sin(2 * np.pi * 5 * t) + 0.5 * np.sin(2 * np.pi * 20 * t)).astype(np.float32)
    blk = make_block("spectral-analysis", {"fft-length": n, "do-log": False, "spectral-peaks-count": 3,
                                           "spectral-peaks-threshold": 0.01, "spectral-power-edges": [0, 10, 32.1]})
    out = blk.transform(x[None, :, None], fs)[0]
    p = out[3:3 + n // 2]
    peaks = out[3 + n // 2:3 + n // 2 + 6]
    assert list(peaks[0::2]) == [5.0, 20.0, 0.0]  # two real peaks, the third padded with zeros
    assert peaks[1] == pytest.approx(p[4]) and peaks[3] == pytest.approx(p[19]) and peaks[5] == 0.0
    bands = out[-2:]
    assert bands[0] == pytest.approx(p[:9].sum(), rel=1e-5) and bands[1] == pytest.approx(p[9:].sum(), rel=1e-5)


def test_wavelet_features_match_pywt_and_numpy() -> None:
    import pywt
    from scipy.stats import kurtosis, skew

    rng = np.random.default_rng(8)
    w = rng.standard_normal((2, 64, 1)).astype(np.float32)
    blk = make_block("spectral-analysis", {"analysis-type": "wavelet", "wavelet": "db2", "wavelet-level": 2})
    blk.validate(64, 1, 20.0)
    out = blk.transform(w, 20.0).reshape(2, 3, 14)
    x = w[..., 0].astype(np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    coeffs = pywt.wavedec(x, "db2", mode="symmetric", level=2, axis=-1)
    for j, c in enumerate(coeffs):
        np.testing.assert_allclose(out[:, j, 1:6], np.percentile(c, [5, 25, 50, 75, 95], axis=-1).T, rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(out[:, j, 6], c.mean(axis=-1), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(out[:, j, 10], skew(c, axis=-1), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out[:, j, 11], kurtosis(c, axis=-1), rtol=1e-4, atol=1e-5)


def test_flatten_matches_numpy_and_scipy() -> None:
    from scipy.stats import kurtosis, skew

    rng = np.random.default_rng(9)
    w = rng.standard_normal((3, 40, 2)).astype(np.float32)
    out = make_block("flatten", {"scale-axes": 0.5}).transform(w, 10.0).reshape(3, 2, 7)
    x = 0.5 * w.astype(np.float64).transpose(0, 2, 1)
    ref = np.stack([x.mean(-1), x.min(-1), x.max(-1), np.sqrt((x ** 2).mean(-1)), x.std(-1), skew(x, axis=-1),
                    kurtosis(x, axis=-1)], axis=-1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
