"""Data augmentation applied to training batches only, reproducibly (one RNG per epoch and batch).

Time series ([time, axes]): additive noise, amplitude scaling, circular time shift. Spectrograms
([frames, coeffs, 1]): time and frequency masking (SpecAugment style). Flat feature vectors: small noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULTS: dict[str, Any] = {"noise": 0.05, "scale": 0.1, "shift": 0.1, "time_masks": 1, "freq_masks": 1,
                            "mask_width": 0.1}


def options(raw: Any) -> dict[str, Any] | None:
    """``False``/``None`` -> no augmentation; ``True`` -> defaults; a dict overrides defaults."""
    if not raw:
        return None
    if raw is True:
        return dict(DEFAULTS)
    if isinstance(raw, dict):
        return {**DEFAULTS, **raw}
    return dict(DEFAULTS)


def augment(X: np.ndarray, kind: str, opts: dict[str, Any], rng: np.random.Generator, std: np.ndarray) -> np.ndarray:
    """An augmented copy of the batch ``X`` (``std`` = per-feature std of the training data, for noise)."""
    X = np.array(X, dtype=np.float32, copy=True)
    n = X.shape[0]
    if kind in ("spectral", "raw-motion") and opts.get("noise"):
        X += (rng.standard_normal(X.shape) * float(opts["noise"]) * std).astype(np.float32)
    if kind == "raw-motion":
        if opts.get("scale"):
            s = 1.0 + rng.uniform(-1, 1, size=(n, 1, X.shape[2])) * float(opts["scale"])
            X *= s.astype(np.float32)
        if opts.get("shift"):
            max_shift = int(round(X.shape[1] * float(opts["shift"])))
            if max_shift > 0:
                shifts = np.asarray(rng.integers(-max_shift, max_shift + 1, size=n)).tolist()
                for i, k in enumerate(shifts):
                    X[i] = np.roll(X[i], int(k), axis=0)
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
