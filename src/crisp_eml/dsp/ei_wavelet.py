"""Edge Impulse's spectral-analysis block in Wavelet mode (implementation versions 3 and 4): the features.

Why a module of its own: the Edge Impulse spectral class (:mod:`crisp_eml.dsp.ei_spectral`) prepares each axis
and hands the prepared signal here when ``analysis-type`` is ``"Wavelet"``; the C twin
(:mod:`crisp_eml.compiler.dsp_c.ei_wavelet`) follows the same definitions. Facts come from reading Edge
Impulse's processing blocks (``spectral_analysis/dsp.py`` and ``common/wavelet.py``); nothing here is their code.

What Edge Impulse does to the window BEFORE its wavelet code (per axis ``a``, ``L`` samples; the caller does
this and passes the result as ``y``):

1. ``x = float32(window[:, a]) * scale-axes`` (float32 result).
2. Version 4 with ``input-decimation-ratio`` r > 1 only: for each stage ``q`` of r (3 -> [3], 10 -> [10],
   30 -> [3, 10], 100 -> [10, 10], 1000 -> [10, 10, 10]): ``sos = scipy.signal.cheby1(8, 0.05, 0.8 / q,
   output='sos')`` (float64), ``x = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])[::q]``; the signal is then
   float64 (float64 sections) and the sampling frequency is divided by q.
3. ``filter-type`` low/high with ``filter-order`` > 0: ``x = sosfilt(float32(butter(order, 2 * cutoff / fs,
   btype, output='sos')), x)`` with zero initial state (float32 when x is float32, float64 after step 2).
4. ``x = x - mean(x)`` in x's dtype (numpy's float32 mean when x is float32). The mean is removed AFTER the
   filter (Edge Impulse's order; the crisp variant removes it before).

Then, per axis, ``pywt.wavedec(x, wavelet, level=level)`` (mode ``'symmetric'``, pywt computes in x's dtype)
gives ``level + 1`` arrays ``[cA_level, cD_level, ..., cD_1]``; for each array ``c`` (``m`` values), in this
order, the 14 features of :data:`FEATURES`:

- ``entropy``: numpy's 100-bin histogram of ``c`` over ``[min c, max c]`` (all bins right-open but the last),
  ``p = count / m``, ``-sum(p ln p)`` over non-empty bins (scipy.stats.entropy of the densities). The bin
  edges are those of the numpy Edge Impulse pins (1.21; same in 1.26): ``float32(min + k * ((max - min) /
  100))`` computed in float64 for float32 ``c`` (numpy >= 2 computes them in float32 and may put a value
  that sits within an ulp of an edge in the next bin: we implement the pinned rule, not whatever numpy
  is installed). ``min == max``: one bin holds everything, entropy 0.
- ``zcross``: the number of ``i`` with ``(c[i] > 0) != (c[i+1] > 0)``, divided by ``m`` (not ``m - 1``);
  ``mcross``: the same with ``c > mean(c)``.
- ``n5, n25, n75, n95, median``: nearest rank on the ascending sort ``s``: ``s[int((m - 1) * p / 100 + 0.5)]``.
- ``mean``, ``std`` (ddof 0), ``var`` (ddof 1), ``rms = sqrt(mean(c**2))``, computed in c's dtype, on the
  sorted array (Edge Impulse sorts in place first; only rounding depends on it).
- ``skew``, ``kurtosis``: 0 when ``rms == 0``; else scipy's biased skewness and Fisher kurtosis with the
  semantics of scipy 1.7.3 (the version Edge Impulse pins): ``mu = mean(c)``, ``d = c - mu``,
  ``m2 = mean(d*d)``, ``m3 = mean(d*d*d)``, ``m4 = mean((d*d)**2)`` (in c's dtype); when
  ``m2 <= (res * mu)**2`` (``res`` = 1e-6 for float32, 1e-15 for float64: a constant non-zero array) skew = 0
  and kurtosis = -3 (scipy >= 1.9 gives NaN there), else ``m3 / m2**1.5`` and ``m4 / m2**2 - 3`` evaluated in
  float64 (numpy 1.x promotes a float32 scalar raised to a Python float; this matters for the tiny rounding
  noise a constant axis leaves, where float32 ``m2**2`` underflows).

Level check (Edge Impulse's, on the length after input decimation): ``32 * 2**level <= len(x)``; level 0 is
allowed (one array: the signal itself). Wavelets: the 50 names of Edge Impulse's ``parameters.json``.
Feature names: ``L{i}-{feature}``, ``i`` the index in the wavedec list (``L0`` = approximation).
"""

from __future__ import annotations

import math

import numpy as np

from crisp_eml.core.errors import InputError

FEATURES = ("entropy", "zcross", "mcross", "n5", "n25", "n75", "n95", "median", "mean", "std", "var", "rms",
            "skew", "kurtosis")
#: Percentiles in feature order (n5, n25, n75, n95, median).
PERCENTILES = (5, 25, 75, 95, 50)
#: Edge Impulse's wavelet choices (spectral_analysis/parameters.json, "wavelet" valid list).
WAVELETS = (
    "bior1.3", "bior1.5", "bior2.2", "bior2.4", "bior2.6", "bior2.8", "bior3.1", "bior3.3", "bior3.5", "bior3.7",
    "bior3.9", "bior4.4", "bior5.5", "bior6.8", "coif1", "coif2", "coif3", "db2", "db3", "db4", "db5", "db6", "db7",
    "db8", "db9", "db10", "haar", "rbio1.3", "rbio1.5", "rbio2.2", "rbio2.4", "rbio2.6", "rbio2.8", "rbio3.1",
    "rbio3.3", "rbio3.5", "rbio3.7", "rbio3.9", "rbio4.4", "rbio5.5", "rbio6.8", "sym2", "sym3", "sym4", "sym5",
    "sym6", "sym7", "sym8", "sym9", "sym10",
)
N_BINS = 100


def min_length(level: int) -> int:
    """The shortest signal Edge Impulse decomposes at ``level``: ``32 * 2**level`` samples."""
    return 32 * 2 ** level


def percentile_index(m: int, p: int) -> int:
    """Edge Impulse's nearest-rank index into an ascending sort of ``m`` values (Python float arithmetic)."""
    return int(((m - 1) * p / 100) + 0.5)


def check_wavelet(window_len: int, wavelet: str, level: int, frequency_hz: float | None = None) -> None:
    """Refuse what Edge Impulse refuses (or cannot compute) in Wavelet mode.

    ``window_len`` and ``frequency_hz`` are those of the signal the wavelet code receives (after input
    decimation); ``frequency_hz`` only makes the message name the window Edge Impulse asks for.
    """
    if wavelet not in WAVELETS:
        raise InputError(f"unknown wavelet {wavelet!r}; Edge Impulse offers {list(WAVELETS)}", field="wavelet")
    if isinstance(level, bool) or not isinstance(level, int | float) or int(level) != level or level < 0:
        raise InputError(f"must be an integer >= 0, got {level!r}", field="wavelet-level")
    need = min_length(int(level))
    if need > window_len:
        hint = (f" (at least {math.ceil(need / frequency_hz * 1000)} ms)"
                if frequency_hz and frequency_hz > 0 else "")
        raise InputError(f"wavelet decomposition level {int(level)} is too high: it needs {need} samples per "
                         f"axis, the signal has {window_len}; increase the window size{hint} or reduce the level",
                         field="wavelet-level")


def ei_wavelet_names(level: int) -> list[str]:
    """Feature names of one axis, in order: ``L0-entropy`` .. ``L{level}-kurtosis``."""
    return [f"L{i}-{f}" for i in range(int(level) + 1) for f in FEATURES]


def ei_wavelet_features(y: np.ndarray, wavelet: str, level: int) -> np.ndarray:
    """Edge Impulse's wavelet features of prepared signals ``y`` ``[n, A, L]`` -> float32 ``[n, A, (level+1)*14]``.

    ``y`` is the signal after the preprocessing in the module docstring, in Edge Impulse's dtype: float32,
    or float64 after version 4's input decimation (other dtypes are taken as float32). Validate first with
    :func:`check_wavelet`.
    """
    import pywt

    y = np.asarray(y)
    if y.dtype != np.float64:
        y = y.astype(np.float32)
    if y.ndim != 3:
        raise InputError(f"signals are [n, axes, samples], got shape {y.shape}", field="windows")
    coeffs = pywt.wavedec(y, wavelet, mode="symmetric", level=int(level), axis=-1)
    return np.concatenate([array_features(np.ascontiguousarray(c)) for c in coeffs], axis=-1).astype(np.float32)


def array_features(c: np.ndarray) -> np.ndarray:
    """The 14 features of each coefficient array ``c`` ``[..., m]`` (float32 or float64) -> float64 ``[..., 14]``."""
    m = c.shape[-1]
    out = np.empty((*c.shape[:-1], len(FEATURES)), dtype=np.float64)
    out[..., 0] = histogram_entropy(c)
    pos = c > 0
    out[..., 1] = np.count_nonzero(pos[..., 1:] != pos[..., :-1], axis=-1) / m
    mean_c = c.mean(axis=-1, keepdims=True)
    above = c > mean_c
    out[..., 2] = np.count_nonzero(above[..., 1:] != above[..., :-1], axis=-1) / m
    s = np.sort(c, axis=-1)
    for k, p in enumerate(PERCENTILES):
        out[..., 3 + k] = s[..., percentile_index(m, p)]
    out[..., 8] = s.mean(axis=-1)
    out[..., 9] = s.std(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[..., 10] = s.var(axis=-1, ddof=1) if m > 1 else np.nan
    rms = np.sqrt((s * s).mean(axis=-1))
    out[..., 11] = rms
    out[..., 12], out[..., 13] = _skew_kurt(s)
    zero = rms == 0
    out[..., 12][zero] = 0.0
    out[..., 13][zero] = 0.0
    return out


def _skew_kurt(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy 1.7.3 ``skew`` / ``kurtosis`` (biased, Fisher) along the last axis, in s's dtype."""
    mu = s.mean(axis=-1, keepdims=True)
    d = s - mu
    d2 = d * d
    m2 = d2.mean(axis=-1)
    m3 = (d2 * d).mean(axis=-1)
    m4 = (d2 * d2).mean(axis=-1)
    res = np.finfo(s.dtype).resolution
    flat = m2 <= (res * mu[..., 0]) ** 2
    # the last step in float64: numpy 1.x evaluates a float32 scalar ** 1.5 (a Python float) in float64
    m2d = m2.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        skew = np.where(flat, 0.0, m3.astype(np.float64) / m2d ** 1.5)
        kurt = np.where(flat, 0.0, m4.astype(np.float64) / m2d ** 2.0) - 3.0
    return skew, kurt


def histogram_edges(lo: np.ndarray, hi: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """numpy 1.x ``histogram`` bin edges ``[..., 101]`` for ranges ``[lo, hi]`` (lo < hi), in ``dtype``."""
    lo64 = lo.astype(np.float64)[..., None]
    step = (hi.astype(np.float64) - lo.astype(np.float64))[..., None] / N_BINS
    edges = (np.arange(N_BINS + 1, dtype=np.float64) * step + lo64).astype(dtype)
    edges[..., -1] = hi
    return edges


def histogram_entropy(c: np.ndarray) -> np.ndarray:
    """``scipy.stats.entropy(numpy.histogram(c, 100, density=True)[0])`` along the last axis (float64)."""
    lead = c.shape[:-1]
    m = c.shape[-1]
    rows = c.reshape(-1, m)
    lo, hi = rows.min(axis=-1), rows.max(axis=-1)
    ent = np.zeros(rows.shape[0], dtype=np.float64)
    live = np.flatnonzero(hi > lo)
    if live.size:
        x = rows[live]
        edges = histogram_edges(lo[live], hi[live], x.dtype)
        lo64 = lo[live].astype(np.float64)[:, None]
        span = hi[live].astype(np.float64)[:, None] - lo64
        idx = np.clip(np.floor((x.astype(np.float64) - lo64) / span * N_BINS).astype(np.int64), 0, N_BINS - 1)
        for _ in range(4):  # settle exactly on the float edges: edges[idx] <= x < edges[idx + 1] (last bin closed)
            down = x < np.take_along_axis(edges, idx, axis=-1)
            up = (x >= np.take_along_axis(edges, idx + 1, axis=-1)) & (idx < N_BINS - 1)
            if not (down.any() or up.any()):
                break
            idx = idx - down + up
        flat = (np.arange(live.size)[:, None] * N_BINS + idx).ravel()
        counts = np.bincount(flat, minlength=live.size * N_BINS).reshape(live.size, N_BINS).astype(np.float64)
        width = np.diff(edges, axis=-1).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            # numpy's densities up to a constant factor (scipy normalises them again); a zero-width bin of
            # collapsed float32 edges is empty: 0 here (numpy: NaN)
            dens = np.where(counts > 0, counts / width, 0.0)
            p = dens / dens.sum(axis=-1, keepdims=True)
            terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        ent[live] = terms.sum(axis=-1)
    return ent.reshape(lead)
