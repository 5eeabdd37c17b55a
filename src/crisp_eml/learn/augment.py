"""Data augmentation applied to training batches only, reproducibly (one RNG per epoch and batch).

Time series ([time, axes], ``raw-motion``): jitter (additive noise scaled to each axis' spread), amplitude
scaling per axis, time warp (a smooth, monotone random distortion of time, resampled back to the same
length) and window shift (shift in time, the vacated rows padded with the edge row; ``shift_mode: "wrap"``
rotates instead). Spectrograms ([frames, coeffs, 1]): time and frequency masking (SpecAugment style). Flat
feature vectors: small noise. Each transform is a function of its own, so it can be tested alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError

DEFAULTS: dict[str, Any] = {"noise": 0.05, "scale": 0.1, "time_warp": 0.1, "warp_knots": 4, "shift": 0.1,
                            "shift_mode": "edge", "time_masks": 1, "freq_masks": 1, "mask_width": 0.1}
_NUMBERS = ("noise", "scale", "time_warp", "shift", "mask_width")
_COUNTS = ("warp_knots", "time_masks", "freq_masks")


def options(raw: Any) -> dict[str, Any] | None:
    """``False``/``None`` -> no augmentation; ``True`` -> defaults; a dict overrides defaults (validated)."""
    if not raw:
        return None
    if raw is True:
        return dict(DEFAULTS)
    if not isinstance(raw, dict):
        raise InputError(f"must be true, false or a mapping of options {sorted(DEFAULTS)}, got {raw!r}",
                         field="learning.params.augment")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise InputError(f"unknown option(s) {unknown}; known: {sorted(DEFAULTS)}", field="learning.params.augment")
    out = {**DEFAULTS, **raw}
    for key in _NUMBERS + _COUNTS:
        v = out[key]
        bad = isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= (1 if key in _NUMBERS else 64)
        if bad or (key in _COUNTS and not float(v).is_integer()):
            raise InputError(f"{key} must be a{' number from 0 to 1' if key in _NUMBERS else 'n integer 0-64'}, "
                             f"got {v!r}", field=f"learning.params.augment.{key}")
    if out["shift_mode"] not in ("edge", "wrap"):
        raise InputError(f"shift_mode must be 'edge' or 'wrap', got {out['shift_mode']!r}",
                         field="learning.params.augment.shift_mode")
    return out


def jitter(X: np.ndarray, sigma: float, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``X`` plus Gaussian noise of ``sigma`` times each feature's spread ``std``."""
    return (X + rng.standard_normal(X.shape) * sigma * std).astype(np.float32)


def scale(X: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Each window's axes multiplied by factors drawn uniformly from [1 - amount, 1 + amount]."""
    s = 1.0 + rng.uniform(-1, 1, size=(X.shape[0], 1, X.shape[2])) * amount
    return (X * s).astype(np.float32)


def warp_path(length: int, strength: float, knots: int, rng: np.random.Generator) -> np.ndarray:
    """Where each output row samples the input: increasing positions from 0 to ``length``-1.

    The local speed of time is 1 + ``strength`` * N(0, 1) at ``knots`` + 2 evenly spaced points (clipped to
    [0.1, 10]), linearly interpolated between them; its running sum, rescaled to span the window, is the path.
    Speeds are positive, so the path is strictly increasing (time never runs backwards).
    """
    if length < 2:
        return np.zeros(max(length, 0))
    speeds = np.clip(1.0 + strength * rng.standard_normal(int(knots) + 2), 0.1, 10.0)
    speed = np.interp(np.linspace(0.0, 1.0, length - 1), np.linspace(0.0, 1.0, len(speeds)), speeds)
    path = np.concatenate([[0.0], np.cumsum(speed)])
    out: np.ndarray = path / path[-1] * (length - 1)
    return out


def time_warp(X: np.ndarray, strength: float, knots: int, rng: np.random.Generator) -> np.ndarray:
    """Each window resampled (linear interpolation, same length) along its own :func:`warp_path`."""
    out = np.empty_like(X, dtype=np.float32)
    grid = np.arange(X.shape[1], dtype=np.float64)
    for i in range(X.shape[0]):
        path = warp_path(X.shape[1], strength, knots, rng)
        for a in range(X.shape[2]):
            out[i, :, a] = np.interp(path, grid, X[i, :, a])
    return out


def shift_rows(window: np.ndarray, k: int, mode: str = "edge") -> np.ndarray:
    """``window`` ([time, ...]) moved ``k`` rows later (earlier when negative); ``edge`` repeats the first/last
    row into the vacated rows, ``wrap`` rotates (what falls off one end comes back at the other)."""
    if k == 0 or len(window) == 0:
        return window.copy()
    if mode == "wrap":
        return np.roll(window, k, axis=0)
    k = max(-len(window), min(len(window), k))
    if k > 0:
        return np.concatenate([np.repeat(window[:1], k, axis=0), window[:-k]], axis=0)
    return np.concatenate([window[-k:], np.repeat(window[-1:], -k, axis=0)], axis=0)


def shift(X: np.ndarray, fraction: float, mode: str, rng: np.random.Generator) -> np.ndarray:
    """Each window shifted by a random number of rows, up to ``fraction`` of its length either way."""
    max_shift = int(round(X.shape[1] * fraction))
    if max_shift <= 0:
        return X
    shifts = np.asarray(rng.integers(-max_shift, max_shift + 1, size=X.shape[0])).tolist()
    return np.stack([shift_rows(X[i], int(k), mode) for i, k in enumerate(shifts)]).astype(np.float32)


def augment(X: np.ndarray, kind: str, opts: dict[str, Any], rng: np.random.Generator, std: np.ndarray) -> np.ndarray:
    """An augmented copy of the batch ``X`` (``std`` = per-feature std of the training data, for noise)."""
    X = np.array(X, dtype=np.float32, copy=True)
    n = X.shape[0]
    if kind in ("spectral", "raw-motion") and opts.get("noise"):
        X = jitter(X, float(opts["noise"]), std, rng)
    if kind == "raw-motion" and X.ndim in (2, 3):
        flat = X.ndim == 2  # a one-axis series given as [time]
        X = X[:, :, None] if flat else X
        if opts.get("scale"):
            X = scale(X, float(opts["scale"]), rng)
        if opts.get("time_warp"):
            X = time_warp(X, float(opts["time_warp"]), int(opts.get("warp_knots", 4)), rng)
        if opts.get("shift"):
            X = shift(X, float(opts["shift"]), str(opts.get("shift_mode", "edge")), rng)
        X = X[:, :, 0] if flat else X
    if kind == "spectrogram":
        frames, coeffs = X.shape[1], X.shape[2]
        width = float(opts.get("mask_width", 0.1))
        for i in range(n):
            for _ in range(int(opts.get("time_masks", 1))):
                w = int(rng.integers(0, max(1, int(frames * width)) + 1))
                t0 = int(rng.integers(0, max(1, frames - w + 1)))
                X[i, t0:t0 + w] = 0.0
            for _ in range(int(opts.get("freq_masks", 1))):
                w = int(rng.integers(0, max(1, int(coeffs * width)) + 1))
                f0 = int(rng.integers(0, max(1, coeffs - w + 1)))
                X[i, :, f0:f0 + w] = 0.0
    return X
