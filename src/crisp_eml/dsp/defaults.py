"""Processing-block parameters scaled to the input (sampling rate, window length), valid for it.

Pure: shared by the data-driven impulse design (``workspace.impulse_search``: the candidates it scores) and
the single heuristic guess (``eml impulse create --quick``, ``build_default_spec``), so both derive block
settings the same way and neither workspace module has to import the other.
"""

from __future__ import annotations

import math
from typing import Any


def spectral_params(rows: int) -> dict[str, Any]:
    """FFT features scaled to the window: the largest power of two in the window (8..128), no filter."""
    fft = 1 << max(3, min(7, int(math.floor(math.log2(max(rows, 2))))))
    return {"filter-type": "none", "fft-length": fft, "do-log": True}


def default_block_params(btype: str, window_len: int, frequency_hz: float) -> dict[str, Any]:
    """Edge-Impulse-like defaults scaled to the sampling rate, valid for this input.

    ``spectral-analysis`` low-passes at 0.3 x the sampling rate (60 % of Nyquist), whatever the rate, and
    takes the largest FFT (8..128) that fits the window.
    """
    if btype == "spectral-analysis":
        cutoff = float(f"{0.3 * frequency_hz:.3g}")
        return {**spectral_params(window_len), "filter-type": "low", "filter-cutoff": cutoff, "filter-order": 6}
    if btype in ("mfcc", "mfe", "spectrogram"):
        frame = 0.02 if window_len / frequency_hz >= 0.04 else round(window_len / frequency_hz / 2, 4)
        frame_samples = max(2, int(round(frame * frequency_hz)))
        fft = 1 << max(4, math.ceil(math.log2(frame_samples)))
        p: dict[str, Any] = {"frame_length": frame, "fft_length": min(fft, 8192)}
        stride = frame if btype == "mfcc" else frame / 2
        p["frame_stride"] = round(stride, 6)
        if btype == "mfcc":
            p["win_size"] = 101
        return p
    return {}
