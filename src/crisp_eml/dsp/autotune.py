"""Autotune: choose DSP block parameters from example windows (pure heuristics).

- ``spectral-analysis``: the mean power spectrum of the (mean-removed) windows; the frequency below which
  95 % of the energy lies becomes a low-pass cutoff (no filter when that is above 80 % of Nyquist);
  ``fft-length`` = the largest power of two <= min(window length, 64), at least 8.
- ``mfe`` / ``mfcc`` / ``spectrogram``: frame length from the window (clip) length — 0.01 s under 0.5 s,
  0.02 s up to 2 s, 0.05 s beyond — stride half a frame (a full frame for mfcc), ``fft_length`` the next
  power of two of the frame; for mel blocks ``high_frequency`` 1.25 x the frequency below which 99 % of the
  energy lies (rounded up to 100 Hz, capped at Nyquist); ``noise_floor_db`` 10 dB under the 5th-percentile frame power.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crisp_eml.core.impulse import ImpulseSpec, TimeSeriesInput


def _energy_edge(windows: np.ndarray, fs: float, fraction: float) -> float:
    x = windows.astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    p = (np.abs(np.fft.rfft(x, axis=1)) ** 2).mean(axis=(0, 2))
    p[0] = 0.0
    total = p.sum()
    if total <= 0:
        return fs / 2.0
    freqs = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
    idx = int(np.searchsorted(np.cumsum(p) / total, fraction))
    return float(freqs[min(idx, len(freqs) - 1)])


def autotune_params(spec: ImpulseSpec, windows: np.ndarray) -> dict[int, dict[str, Any]]:
    """New parameter values per block index (only the ones autotune decides), from ``windows``."""
    inp = spec.input
    if not isinstance(inp, TimeSeriesInput) or windows.shape[0] == 0:
        return {}
    fs, wl = inp.frequency_hz, inp.window_len
    changes: dict[int, dict[str, Any]] = {}
    names = list(inp.axes)
    for i, b in enumerate(spec.blocks):
        cols = list(range(len(names))) if b.axes is None else [names.index(a) for a in b.axes]
        w = windows[:, :, cols]
        if b.type == "spectral-analysis":
            edge = _energy_edge(w, fs, 0.95)
            nyq = fs / 2.0
            fft = max(8, 1 << int(math.floor(math.log2(max(1, min(wl, 64))))))
            if edge >= 0.8 * nyq:
                changes[i] = {"filter-type": "none", "fft-length": fft}
            else:
                cutoff = max(round(edge + 0.05 * nyq, 2), round(fs / max(wl, 1), 2), 0.01)
                changes[i] = {"filter-type": "low", "filter-cutoff": min(cutoff, round(0.9 * nyq, 2)),
                              "fft-length": fft}
        elif b.type in ("mfe", "mfcc", "spectrogram"):
            seconds = wl / fs
            frame = 0.01 if seconds < 0.5 else 0.02 if seconds <= 2.0 else 0.05
            frame = min(frame, seconds)
            n = max(2, int(round(frame * fs)))
            c: dict[str, Any] = {"frame_length": frame, "frame_stride": frame if b.type == "mfcc" else frame / 2,
                                 "fft_length": min(8192, max(16, 1 << math.ceil(math.log2(n))))}
            if b.type in ("mfe", "mfcc"):
                hi = min(fs / 2.0, math.ceil(1.25 * _energy_edge(w, fs, 0.99) / 100.0) * 100.0)
                c["high_frequency"] = hi if hi > float(b.params.get("low_frequency", 0.0) or 0.0) + 100 else None
            if b.type in ("mfe", "spectrogram"):
                x = w.astype(np.float64)
                frames = x[:, : (x.shape[1] // n) * n].reshape(x.shape[0], -1, n, x.shape[2])
                pw = (frames ** 2).mean(axis=2).ravel()
                floor = 10 * np.log10(np.percentile(pw, 5) + 1e-30) - 10
                c["noise_floor_db"] = float(np.clip(round(floor), -120, -20))
            changes[i] = c
    return changes
