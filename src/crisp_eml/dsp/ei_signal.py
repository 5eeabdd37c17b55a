"""Signal helpers of Edge Impulse's spectral-analysis block (:mod:`crisp_eml.dsp.ei_spectral`): input decimation,
moments with Edge Impulse's constant-signal values, version 1's peak finder, the max-hold spectrum and the filter
stability test, each reproducing Edge Impulse's arithmetic (the C twin, :mod:`crisp_eml.compiler.dsp_c.ei_motion`,
mirrors them)."""

from __future__ import annotations

import numpy as np

#: Skewness and (Fisher) kurtosis of a flat signal: Edge Impulse's pinned scipy 1.7.3 gives (0, -3); scipy >= 1.9
#: gives NaN, which no model can train on. Deliberate: we keep the pinned values.
FLAT_SKEW_KURT = (0.0, -3.0)
DECIMATION_RATIOS = (1, 3, 10, 30, 100, 1000)
#: Stages of each input decimation ratio (Edge Impulse's combinations).
RATIO_STAGES = {1: (), 3: (3,), 10: (10,), 30: (3, 10), 100: (10, 10), 1000: (10, 10, 10)}
LF_RATIO = 10


def decimation_sos(ratio: int) -> tuple[np.ndarray, np.ndarray]:
    """Second-order sections and unit initial state of one decimation stage (float64)."""
    from scipy.signal import cheby1, sosfilt_zi

    sos = np.asarray(cheby1(8, 0.05, 0.8 / ratio, output="sos"), dtype=np.float64)
    return sos, np.asarray(sosfilt_zi(sos), dtype=np.float64)


def decimate(x: np.ndarray, ratio: int) -> np.ndarray:
    """One decimation stage along the last axis (float64 result, as Edge Impulse's)."""
    from scipy.signal import sosfilt

    sos, zi = decimation_sos(ratio)
    z = zi.reshape(zi.shape[0], *([1] * (x.ndim - 1)), 2) * x[..., :1].astype(np.float64)[None]
    y, _ = sosfilt(sos, x, axis=-1, zi=z)
    return np.ascontiguousarray(np.asarray(y)[..., ::ratio])


def decimated_len(n: int, stages: tuple[int, ...]) -> int:
    for r in stages:
        n = -(-n // r)
    return n


def skew_kurt(x: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """scipy.stats skew / kurtosis (biased, Fisher) along the last axis, computed in float64.

    ``resolution`` is numpy's resolution of the dtype Edge Impulse computes in (float32 1e-6 for the signal,
    float64 1e-15 for the spectrum): scipy treats ``m2 <= (resolution * mean)^2`` as flat."""
    d = x.astype(np.float64)
    mu = d.mean(axis=-1, keepdims=True)
    c = d - mu
    m2 = (c * c).mean(axis=-1)
    m3 = (c ** 3).mean(axis=-1)
    m4 = (c ** 4).mean(axis=-1)
    flat = m2 <= (resolution * mu[..., 0]) ** 2
    safe = np.where(flat, 1.0, m2)
    sk = np.where(flat, FLAT_SKEW_KURT[0], m3 / safe ** 1.5)
    ku = np.where(flat, FLAT_SKEW_KURT[1], m4 / safe ** 2 - 3.0)
    return sk, ku


def peak_indexes(v: np.ndarray) -> list[int]:
    """Local maxima of ``v`` as peakutils' ``indexes(v, thres=0)`` reports them (from its documented semantics).

    The first difference ``dy``; a run of zero differences (a plateau) takes the difference before it on its
    left half and the one after it on its right half (from its middle on); a run at the start takes the one
    after it, at the end the one before it; all zero = no peaks. A peak is an ``i`` with ``dy[i-1] > 0`` and
    ``dy[i] < 0`` (outside values count as 0) and ``v[i] > min(v)``."""
    n = len(v)
    if n < 2:
        return []
    dy = np.diff(v.astype(np.float64))
    m = len(dy)
    zero = dy == 0
    if zero.all():
        return []
    orig = dy.copy()
    i = 0
    while i < m:
        if not zero[i]:
            i += 1
            continue
        a = i
        while i < m and zero[i]:
            i += 1
        b = i - 1
        if a == 0:
            dy[a:b + 1] = orig[b + 1]
        elif b == m - 1:
            dy[a:b + 1] = orig[a - 1]
        else:
            for j in range(a, b + 1):
                dy[j] = orig[a - 1] if 2 * j < a + b else orig[b + 1]
    right = np.append(dy, 0.0)
    left = np.insert(dy, 0, 0.0)
    floor = float(np.min(v))
    return [int(k) for k in np.flatnonzero((right < 0) & (left > 0) & (v > floor))]


def max_hold_spectrum(x: np.ndarray, n_fft: int, overlap: bool) -> np.ndarray:
    """``max_f |rfft(frame_f, N)|^2 / N`` over frames starting at 0, s, 2s, ... <= len (zero-padded), float64."""
    length = x.shape[-1]
    step = n_fft - n_fft // 2 if overlap else n_fft
    # deliberate: frames start up to len(x) inclusive (zero-padded tails, even an all-zero frame), max not mean
    starts = np.arange(0, length + 1, step)
    padded = np.concatenate([x.astype(np.float64), np.zeros((*x.shape[:-1], n_fft), dtype=np.float64)], axis=-1)
    idx = starts[:, None] + np.arange(n_fft)[None, :]
    out = np.zeros((*x.shape[:-1], n_fft // 2 + 1), dtype=np.float64)
    rows = max(1, (1 << 22) // max(1, len(starts) * n_fft * int(np.prod(x.shape[1:-1], dtype=np.int64))))
    for i in range(0, x.shape[0], rows):
        frames = padded[i:i + rows][..., idx]  # [rows, axes, frames, N]
        p = np.abs(np.fft.rfft(frames, n=n_fft, axis=-1)) ** 2 / n_fft
        out[i:i + rows] = p.max(axis=-2)
    return out


def cascade_stable(order: int, cutoff: float, fs: float) -> bool:
    """Edge Impulse's float32 stability test of the filter.

    Deliberate: the low-pass prototype is tested for both filter types, as Edge Impulse does."""
    a = np.float32(np.tan(np.pi * cutoff / fs))
    a2 = np.float32(a * a)
    worst = 0.0
    for i in range(order // 2):
        r = np.sin(np.pi * (2.0 * i + 1.0) / (2.0 * order))
        s = a2 + 2.0 * a * r + 1.0
        d1 = np.float32(2.0 * (1 - a2) / s)
        d2 = np.float32(-(a2 - 2.0 * a * r + 1.0) / s)
        poles = np.roots([1.0, -float(d1), -float(d2)])
        worst = max(worst, float(np.max(np.abs(poles))))
    return worst < 1.0
