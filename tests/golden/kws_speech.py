"""In-distribution inputs for the MLPerf Tiny keyword model: espeak-ng speech turned into its int8 MFCC input.

Random int8 vectors drive the KWS network far outside what it was trained on (most outputs saturate, every
row picks the same class), so the golden tests also feed it what it expects: one second of 16 kHz speech
through the MLPerf Tiny KWS frontend (``tf.signal`` in the benchmark's ``get_dataset.py``), reimplemented
here in numpy and checked once against ``tf.signal`` (max difference 3e-6 on 20-unit features):

- frames of 480 samples (30 ms, taken to be the benchmark's ``window_size_ms``) every 320 samples (20 ms):
  49 frames; periodic Hann window; ``|rfft|`` of length 512 (``fft_length=None``: next power of two);
- magnitude (not power) times ``tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20, 4000)``:
  triangles linear in mel = 1127 ln(1 + f/700), DC bin zeroed;
- ``ln(mel + 1e-6)``, then ``tf.signal.mfccs_from_log_mel_spectrograms``: unnormalised DCT-II divided by
  ``sqrt(2 * 40)``, first 10 coefficients;
- quantised with the model's input scale and zero point (read from the model, not hard-coded).

A 40 ms window (fft 1024) also gives 49 frames; the model recognises 9 of the 10 words below with 30 ms and 7
with 40 ms, so 30 ms is the closer frontend.
Each word is peak-normalised to 0.5, centred in the second, over seeded white noise of 1e-3 (the benchmark
trains with background noise; pure digital silence would put coefficient 0 below the int8 range).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_TINY

KWS_LABELS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown")
WORDS = KWS_LABELS[:10]
FS, FRAME, STRIDE, FFT, MELS, COEFFS, FRAMES = 16000, 480, 320, 512, 40, 10, 49


def tf_mel_matrix(num_mel: int, num_bins: int, fs: float, lo: float, hi: float) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix``: ``[num_bins, num_mel]``, triangles in the mel domain."""
    def mel(f: np.ndarray | float) -> np.ndarray:
        return np.asarray(1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0))

    bins_mel = mel(np.linspace(0.0, fs / 2.0, num_bins)[1:])[:, None]
    edges = np.linspace(mel(lo), mel(hi), num_mel + 2)
    low, centre, up = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    w = np.maximum(0.0, np.minimum((bins_mel - low) / (centre - low), (up - bins_mel) / (up - centre)))
    return np.vstack([np.zeros((1, num_mel)), w])


def mlperf_mfcc(x: np.ndarray) -> np.ndarray:
    """``[49, 10]`` float MFCCs of one second of 16 kHz audio in [-1, 1] (module docstring)."""
    import scipy.fft

    frames = np.stack([x[i * STRIDE:i * STRIDE + FRAME] for i in range(FRAMES)])
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FRAME) / FRAME)
    mag = np.abs(np.fft.rfft(frames * hann, n=FFT))
    log_mel = np.log(mag @ tf_mel_matrix(MELS, FFT // 2 + 1, FS, 20.0, 4000.0) + 1e-6)
    return np.asarray(scipy.fft.dct(log_mel, type=2, axis=-1) / np.sqrt(2.0 * MELS))[:, :COEFFS]


def speak(word: str, tmp: Path) -> np.ndarray:
    """espeak-ng (en-us, 160 wpm, pitch 50) resampled to 16 kHz, float64 in [-1, 1]."""
    from math import gcd

    from scipy.io import wavfile
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is required for the in-distribution KWS vectors")
    wav = tmp / f"{word}.wav"
    subprocess.run([exe, "-v", "en-us", "-s", "160", "-p", "50", "-w", str(wav), word], check=True,
                   capture_output=True, timeout=60)
    rate, data = wavfile.read(wav)
    x = data.astype(np.float64) / 32768.0
    g = gcd(FS, int(rate))
    return np.asarray(resample_poly(x, FS // g, int(rate) // g))


def one_second(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = 0.5 * x / np.max(np.abs(x))
    out = 1e-3 * rng.standard_normal(FS)
    k = min(x.size, FS)
    start = (FS - k) // 2
    out[start:start + k] += x[:k]
    return out


def quantize(features: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.clip(np.round(features / scale) + zero_point, -128, 127).astype(np.int8)


@pytest.fixture(scope="session")
def kws_speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """``[10, 490]`` int8 input rows, one per word of ``WORDS`` (synthesised once per session)."""
    from crisp_eml.compiler.reader import read_tflite

    tmp = tmp_path_factory.mktemp("kws-speech")
    g = read_tflite(MLPERF_TINY / "kws_ref_model.tflite")
    t = g.tensor(g.inputs[0])
    rng = np.random.default_rng(17)
    rows = [quantize(mlperf_mfcc(one_second(speak(w, tmp), rng)), float(t.scale[0]), int(t.zero_point[0])).ravel()
            for w in WORDS]
    return np.stack(rows)
