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


#: Blocks that take Edge Impulse's audio convention: int16 sample values (our audio samples are in [-1, 1]).
INT16_AUDIO_BLOCKS = ("spectrogram", "mfe", "mfcc")


def new_block(btype: str, params: dict[str, Any], *, audio: bool, name: str | None = None) -> dict[str, Any]:
    """A block of a new impulse (its ``to_dict`` form) at the latest implementation version.

    At an Edge Impulse version the audio blocks see int16 sample values, as Edge Impulse feeds them: for audio
    data (samples in [-1, 1]) the block's ``input_scale`` is set to 32768, visibly, in the spec.
    """
    from crisp_eml.dsp.registry import latest_version

    version = latest_version(btype)
    p = dict(params)
    if audio and btype in INT16_AUDIO_BLOCKS and isinstance(version, int):
        p.setdefault("input_scale", 32768.0)
    return {"name": name or btype, "type": btype, "params": p, "implementation_version": version}
