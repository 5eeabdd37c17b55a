"""Independent references for the audio and image DSP blocks, shared by the Python and the C-twin tests.

The C twin's tables (window, mel filterbank, DCT) are generated from the Python block's own functions, so
comparing the twin with the Python block cannot notice a wrong constant in those functions (a Hamming
0.46 -> 0.44 went unnoticed). Everything here is computed with scipy, librosa, python_speech_features and
Pillow only, never with ``crisp_eml``; the parameter mapping (ours -> reference) is spelled out per case.

One-block cases on one 8 kHz, 0.5 s axis (``INPUT``); ``reference(case, x)`` gives the block's expected
``[frames, bins]`` output for the signal ``x``. Conventions that map exactly:

- ours ``P = |X|^2 / N``; librosa's power spectrogram is ``|X|^2`` => librosa gets ``x / sqrt(N)``;
- ``frame_length * fs == fft_length`` and ``center=False`` make librosa's frames ours;
- ``window`` hann / hamming = ``scipy.signal.get_window(name, F)`` (periodic, ``fftbins=True``);
- ``filterbank="continuous"`` = ``librosa.filters.mel(htk=True, norm=None)``, ``"bins"`` =
  ``python_speech_features.get_filterbanks``;
- mfcc ``10 log10`` and DCT-II ortho: librosa ``power_to_db(ref=1, amin=1e-10, top_db=None)`` then
  ``feature.mfcc(S=..., dct_type=2, norm="ortho")``; psf's
  ``mfcc`` uses the natural log => times ``10 / ln 10``; pre-emphasis = ``scipy.signal.lfilter([1, -c], 1, x)``;
- spectrogram / mfe noise floor ``clip((10 log10(v + 1e-30) - floor) / (12 - floor), 0, 1)`` applied to the
  reference power (the block's definition, not a constant under test);
- image grayscale = Pillow ``convert("L")`` (ITU-R BT.601 luma, integer rounding: within 0.5 / 255).
"""

from __future__ import annotations

from typing import Any

import numpy as np

FS = 8000
SECONDS = 0.5
INPUT = {"type": "time-series", "window_size_ms": int(SECONDS * 1000), "frequency_hz": FS, "axes": ["audio"]}
FLOOR = -120.0  # low enough that no reference bin is clipped to 0

CASES: dict[str, dict[str, Any]] = {
    "spectrogram-hamming": {"type": "spectrogram", "params": {
        "frame_length": 256 / FS, "frame_stride": 128 / FS, "fft_length": 256, "window": "hamming",
        "noise_floor_db": FLOOR}},
    "spectrogram-hann-zero-padded": {"type": "spectrogram", "params": {
        "frame_length": 200 / FS, "frame_stride": 100 / FS, "fft_length": 256, "window": "hann",
        "noise_floor_db": FLOOR}},
    "mfe-hann-continuous": {"type": "mfe", "params": {
        "frame_length": 256 / FS, "frame_stride": 128 / FS, "fft_length": 256, "window": "hann",
        "num_filters": 32, "low_frequency": 50.0, "high_frequency": 3800.0, "noise_floor_db": FLOOR}},
    "mfe-hamming-continuous": {"type": "mfe", "params": {
        "frame_length": 512 / FS, "frame_stride": 256 / FS, "fft_length": 512, "window": "hamming",
        "num_filters": 40, "noise_floor_db": FLOOR}},
    "mfe-none-bins": {"type": "mfe", "params": {
        "frame_length": 200 / FS, "frame_stride": 80 / FS, "fft_length": 256, "window": "none",
        "filterbank": "bins", "num_filters": 26, "noise_floor_db": FLOOR}},
    "mfcc-hann-continuous": {"type": "mfcc", "params": {
        "frame_length": 256 / FS, "frame_stride": 128 / FS, "fft_length": 256, "window": "hann",
        "num_filters": 32, "num_cepstral": 13, "pre_cof": 0.0, "win_size": 0}},
    "mfcc-hamming-continuous": {"type": "mfcc", "params": {
        "frame_length": 256 / FS, "frame_stride": 256 / FS, "fft_length": 256, "window": "hamming",
        "num_filters": 20, "num_cepstral": 12, "pre_cof": 0.0, "win_size": 0, "low_frequency": 100.0}},
    "mfcc-none-bins-preemphasis": {"type": "mfcc", "params": {
        "frame_length": 256 / FS, "frame_stride": 128 / FS, "fft_length": 256, "window": "none",
        "filterbank": "bins", "num_filters": 26, "num_cepstral": 13, "pre_cof": 0.97, "win_size": 0}},
}


def signal(seed: int = 0) -> np.ndarray:
    """Tones plus broadband noise (every mel band holds real energy), float32, ``FS * SECONDS`` samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(FS * SECONDS)) / FS
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1900 * t + 0.3)
         + 0.1 * np.sin(2 * np.pi * 3300 * t) + 0.05 * rng.standard_normal(t.size))
    return x.astype(np.float32)


def _frames(x: np.ndarray, f: int, s: int) -> np.ndarray:
    count = 1 + (x.size - f) // s
    return np.stack([x[i * s:i * s + f] for i in range(count)]).astype(np.float64)


def _floor(v: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip((10.0 * np.log10(v + 1e-30) - FLOOR) / (12.0 - FLOOR), 0.0, 1.0))


def _window(name: str, f: int) -> np.ndarray:
    from scipy.signal import get_window

    return np.ones(f) if name == "none" else np.asarray(get_window(name, f, fftbins=True))


def _power(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """``|rfft(frame * window, n=N)|^2 / N`` per frame, the window from scipy."""
    f, s, n = round(p["frame_length"] * FS), round(p["frame_stride"] * FS), int(p["fft_length"])
    return np.asarray(np.abs(np.fft.rfft(_frames(x, f, s) * _window(p["window"], f), n=n)) ** 2 / n)


def reference(case: str, x: np.ndarray) -> np.ndarray:
    """The expected ``[frames, bins]`` output of ``CASES[case]`` on the float signal ``x``."""
    import librosa
    import python_speech_features as psf
    from scipy.signal import lfilter

    blk = CASES[case]
    p = blk["params"]
    x64 = np.asarray(x, np.float64)
    n = int(p["fft_length"])
    f, s = round(p["frame_length"] * FS), round(p["frame_stride"] * FS)
    lo, hi = float(p.get("low_frequency", 0.0)), float(p.get("high_frequency") or FS / 2)
    bins = p.get("filterbank", "continuous") == "bins"
    if blk["type"] == "spectrogram":
        return _floor(_power(x64, p))
    if blk["type"] == "mfe" and not bins:
        assert f == n
        mel = librosa.feature.melspectrogram(y=x64 / np.sqrt(n), sr=FS, n_fft=n, hop_length=s, window=p["window"],
                                             center=False, power=2.0, n_mels=p["num_filters"], fmin=lo, fmax=hi,
                                             htk=True, norm=None)
        return _floor(mel.T)
    if blk["type"] == "mfe":
        assert p["window"] == "none"
        energies, _ = psf.fbank(x64, samplerate=FS, winlen=f / FS, winstep=s / FS, nfilt=p["num_filters"], nfft=n,
                                lowfreq=lo, highfreq=hi, preemph=0.0)
        return _floor(energies[:1 + (x64.size - f) // s])
    if not bins:  # mfcc, librosa
        assert f == n and p["pre_cof"] == 0.0
        mel = librosa.feature.melspectrogram(y=x64 / np.sqrt(n), sr=FS, n_fft=n, hop_length=s, window=p["window"],
                                             center=False, power=2.0, n_mels=p["num_filters"], fmin=lo, fmax=hi,
                                             htk=True, norm=None)
        log_mel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        return np.asarray(librosa.feature.mfcc(S=log_mel, n_mfcc=p["num_cepstral"], dct_type=2, norm="ortho").T)
    assert p["window"] == "none"  # mfcc, python_speech_features (rectangular frames, its own pre-emphasis)
    y = lfilter([1.0, -p["pre_cof"]], [1.0], x64)
    ref = psf.mfcc(y, samplerate=FS, winlen=f / FS, winstep=s / FS, numcep=p["num_cepstral"], nfilt=p["num_filters"],
                   nfft=n, lowfreq=lo, highfreq=hi, preemph=0.0, ceplifter=0, appendEnergy=False)
    return np.asarray(ref[:1 + (x64.size - f) // s] * (10.0 / np.log(10.0)))


def assert_matches_reference(case: str, ours: np.ndarray, ref: np.ndarray) -> None:
    """mfe / spectrogram (0..1 dB scale): within 2e-5 absolute; mfcc: within 1e-4 of the largest |cepstrum|."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if CASES[case]["type"] == "mfcc":
        err = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
        assert err < 1e-4, f"{case}: relative error {err:.2e}"
    else:
        np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-5, err_msg=case)


def pillow_gray(rgb: np.ndarray) -> np.ndarray:
    """Pillow's ITU-R BT.601 ``convert("L")`` of ``[h, w, 3]`` uint8, scaled to 0..1."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb, "RGB").convert("L"), np.float64) / 255.0
