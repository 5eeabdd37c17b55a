"""Edge Impulse's audio arithmetic (framing, power spectra, mel filterbank, sliding normalisation), vectorised.

Shared by the Edge Impulse versions of ``spectrogram``, ``mfe`` and ``mfcc`` (:mod:`crisp_eml.dsp.ei_audio`) and
their C twin (which takes its tables from here). Written from the facts of Edge Impulse's processing blocks
(their vendored speechpy); every place that reproduces one of their quirks on purpose says so. Arithmetic is
float64 where theirs is, float32 where theirs is.

Framing (``fs`` Hz, ``L`` samples): frame length ``F`` = ``round_half_even(fs * frame_length)`` at version 1,
else :func:`ceil_unless_close` of it; stride ``S`` = :func:`ceil_unless_close` ``(fs * frame_stride)``;
frames ``floor((L - F) / S)`` at version 1 (one fewer than fit), else ``floor((L - F + S) / S)``;
frame ``i`` = ``x[i*S : i*S + F]``, rectangular window; power ``|rfft(frame, N)|^2 / N`` (``N/2 + 1`` bins).

Mel filterbank (:func:`ei_filterbank`): ``M + 2`` points equally spaced in ``1127 ln(1 + f/700)`` from
``low`` to ``high``, back to Hz, the top one lowered by 0.001 Hz; edge bins ``floor((P + 1) hz / fs)`` with
``P = N/2 + 1`` ("old mels", versions 1-3) or ``P = N`` (version 4); triangles evaluated on integer bins with
speechpy's assignment order (a filter whose centre equals its right edge keeps a 1 at that bin); a filterbank
with an all-zero filter is refused.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from crisp_eml.core.errors import InputError

#: Frames Edge Impulse accepts at most per window.
MAX_FRAMES = 500


def ceil_unless_close(v: float) -> int:
    """``ceil(v)``, but ``floor(v)`` when ``v`` is less than 0.001 above it (Edge Impulse's framing rule)."""
    fl = math.floor(v)  # deliberate (EI): float products like 320.0000001 must not add a sample
    return int(fl) if fl < v < fl + 0.001 else int(math.ceil(v))


def frame_geometry(version: int, fs: float, frame_length: float, frame_stride: float,
                   window_len: int) -> tuple[int, int, int]:
    """(samples per frame ``F``, stride ``S``, number of frames) as Edge Impulse computes them at ``version``."""
    # deliberate (EI v1): the frame length rounds half to even (numpy) where v>=2 ceils
    f = int(np.round(fs * frame_length)) if version == 1 else ceil_unless_close(fs * frame_length)
    s = ceil_unless_close(fs * frame_stride)
    if s <= 0:
        return f, s, 0
    # deliberate (EI v1): one frame fewer than fit
    count = math.floor((window_len - f) / s) if version == 1 else math.floor((window_len - (f - s)) / s)
    return f, s, int(count)


def check_frames(count: int, field: str = "frame_length") -> None:
    """Edge Impulse's refusals of too few / too many frames."""
    if count < 1:
        raise InputError("frame length is larger than the window (no frame fits)", field=field)
    if count > MAX_FRAMES:
        raise InputError(f"{count} frames per window (Edge Impulse allows at most {MAX_FRAMES}); increase "
                         "frame_stride or shorten the window", field="frame_stride")


def power_spectra(x: np.ndarray, f: int, s: int, count: int, n: int, chunk: int = 64) -> np.ndarray:
    """``x`` float64 ``[w, L]`` -> float64 ``[w, count, n/2 + 1]`` power spectra ``|rfft(frame, n)|^2 / n``."""
    out = np.empty((x.shape[0], count, n // 2 + 1))
    for i in range(0, x.shape[0], chunk):
        # deliberate (EI): rectangular window (frames are used as cut, no window function)
        frames = np.lib.stride_tricks.sliding_window_view(x[i:i + chunk], f, axis=-1)[:, ::s][:, :count]
        if f > n:
            frames = frames[..., :n]  # rfft(n=N) truncates a longer frame
        spec = np.fft.rfft(frames, n=n, axis=-1)
        out[i:i + chunk] = (spec.real ** 2 + spec.imag ** 2) / n
    return out


def _mel(f: np.ndarray | float) -> np.ndarray:
    return np.asarray(1127 * np.log(1 + np.asarray(f, dtype=np.float64) / 700.0))


def _hz(m: np.ndarray) -> np.ndarray:
    return np.asarray(700 * (np.exp(m / 1127.0) - 1))


@lru_cache(maxsize=64)
def ei_filterbank(num_filters: int, fft_length: int, fs: float, low: float, high: float,
                  old_mels: bool) -> np.ndarray:
    """``[num_filters, fft_length/2 + 1]`` float64 filterbank exactly as Edge Impulse builds it (module docstring).

    Raises :class:`InputError` (field ``num_filters``) when a filter has no non-zero weight, as Edge Impulse
    refuses such a filterbank.
    """
    coefficients = fft_length // 2 + 1
    hertz = _hz(np.linspace(_mel(low), _mel(high), num_filters + 2))
    hertz[-1] = hertz[-1] - 0.001  # deliberate: Edge Impulse lowers the top edge by 0.001 Hz
    points = coefficients if old_mels else (coefficients - 1) * 2  # deliberate: "old mels" use N/2+1 (v1-v3)
    idx = np.floor((points + 1) * hertz / fs).astype(int)
    fb = np.zeros((num_filters, coefficients))
    for i in range(num_filters):
        left, mid, right = int(idx[i]), int(idx[i + 1]), int(idx[i + 2])
        if right < left:
            continue
        z = np.arange(left, right + 1, dtype=np.float64)
        w = np.zeros(z.shape)
        rise = (left < z) & (z <= mid)
        w[rise] = (z[rise] - left) / (mid - left) if mid > left else 0.0
        fall = (mid <= z) & (z < right)  # deliberate: applied after the rise, so centre == right keeps a 1
        w[fall] = (right - z[fall]) / (right - mid) if right > mid else 0.0
        hi = min(right + 1, coefficients)
        fb[i, left:hi] = w[: hi - left]
    if np.any(np.all(fb == 0, axis=1)):
        which = "the 'old mels' of versions 1-3" if old_mels else "version 4's filterbank"
        raise InputError(f"{num_filters} mel filters over fft_length {fft_length} at {fs:g} Hz leave a filter with "
                         f"no FFT bin ({which}); Edge Impulse refuses this: use fewer filters (its hint: "
                         f"{coefficients // 4}), a longer fft_length or a narrower frequency range",
                         field="num_filters")
    fb.setflags(write=False)
    return fb


def _window_sums(padded: np.ndarray, win_size: int, frames: int) -> np.ndarray:
    """Sum over each run of ``win_size`` padded frames, added in frame order (as numpy reduces axis 0)."""
    acc = padded[:, 0:frames].copy()
    for k in range(1, win_size):
        acc += padded[:, k:k + frames]
    return acc


def cmvnw(v: np.ndarray, win_size: int, variance: bool, chunk: int = 64) -> np.ndarray:
    """Sliding normalisation over frames (axis -2) of ``v`` ``[w, frames, cols]``, as speechpy's ``cmvnw``.

    Pads ``(win_size - 1) / 2`` frames at both ends (numpy ``'symmetric'``); mean pass ``v - mean(window)``
    (float64, stored float32); with ``variance``, the mean-removed values (padded the same way) are divided by
    their window's standard deviation (ddof 0, computed in float32 like numpy's ``std`` of float32) + 1e-10.
    Sums run in frame order like numpy's reduction over axis 0, so constant inputs give exact zeros as theirs.
    Returns float32.
    """
    half = (win_size - 1) // 2
    frames = v.shape[1]
    pad = ((0, 0), (half, half), (0, 0))
    out = np.empty(v.shape, dtype=np.float32)
    for i in range(0, v.shape[0], chunk):
        part = np.asarray(v[i:i + chunk], dtype=np.float64)
        mean = _window_sums(np.pad(part, pad, mode="symmetric"), win_size, frames) / win_size
        ms = (part - mean).astype(np.float32)
        if variance:
            pm = np.pad(ms, pad, mode="symmetric")
            m32 = _window_sums(pm, win_size, frames) / np.float32(win_size)
            sq = np.zeros_like(ms)
            for k in range(win_size):
                d = pm[:, k:k + frames] - m32
                sq += d * d
            std = np.sqrt(sq / np.float32(win_size))
            ms = ms / (std + np.float32(1e-10))  # deliberate: divides by the standard deviation (speechpy)
        out[i:i + chunk] = ms
    return out
