"""Per-feature standardisation applied between the DSP step and the int8 model, identically everywhere.

An int8 model quantises its whole input with one scale. Raw DSP features can span very different ranges
(one feature from -5 to 80, another with a spread of 0.1), so one scale wipes out the small ones. Training
therefore standardises every feature channel with statistics of the *training* windows and the model learns on
``z = (x - mean) / std``; the statistics travel inside the ``.tflite`` files (see
:mod:`crisp_eml.learn.model_metadata`) and are applied by ``eml test``, the C library's ``<name>_run`` and every
runner before the input is quantised.

Channels are the last axis of a window's features (the feature itself for a flat vector, the sensor axis for a
``[time, axes]`` window, the coefficient for a spectrogram), so a value's channel is ``flat_index % channels``.
Arithmetic is float32 in this order, one subtraction then one division (both correctly rounded, no fused
multiply-add possible), which C reproduces bit for bit: ``z = (x - mean[c]) / std[c]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError

#: Name of the TFLite metadata entry holding the statistics as JSON.
METADATA_NAME = "crisp_eml.normalization"
#: A channel whose spread is below this is constant in the training data: it is only centred.
MIN_STD = 1e-6


@dataclass(frozen=True)
class Normalization:
    """float32 ``mean`` and ``std`` per channel (the last feature axis)."""

    mean: np.ndarray
    std: np.ndarray

    @property
    def channels(self) -> int:
        return int(self.mean.shape[0])

    def apply(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / std`` in float32 over the last axis of ``X`` (any leading shape)."""
        x = np.asarray(X, dtype=np.float32)
        flat = x.reshape(*x.shape[:1], -1) if x.ndim > 1 else x.reshape(1, -1)
        if flat.shape[-1] % self.channels:
            raise InputError(f"{flat.shape[-1]} feature values per window are not a multiple of the "
                             f"{self.channels} normalisation channels", field="features")
        reps = flat.shape[-1] // self.channels
        mean, std = np.tile(self.mean, reps), np.tile(self.std, reps)
        z = (flat - mean) / std
        return z.astype(np.float32).reshape(x.shape)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "axis": "last", "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std]}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, d: Any) -> Normalization:
        if not isinstance(d, dict) or d.get("version") != 1:
            raise InputError("normalisation statistics must be {'version': 1, 'mean': [...], 'std': [...]}",
                             field="normalization")
        mean = np.asarray(d.get("mean"), dtype=np.float32)
        std = np.asarray(d.get("std"), dtype=np.float32)
        if mean.ndim != 1 or mean.shape != std.shape or mean.size == 0:
            raise InputError("normalisation mean and std must be non-empty lists of the same length",
                             field="normalization")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise InputError("normalisation statistics must be finite, with std > 0", field="normalization")
        return cls(mean=mean, std=std)

    @classmethod
    def from_json(cls, data: bytes) -> Normalization:
        try:
            return cls.from_dict(json.loads(data))
        except (ValueError, TypeError) as exc:
            raise InputError(f"unreadable normalisation statistics: {exc}", field="normalization") from exc


def fit(X: np.ndarray) -> Normalization:
    """Statistics over every window and position of ``X`` (``[n, ..., channels]``), per last-axis channel."""
    x = np.asarray(X, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] == 0:
        raise InputError("normalisation needs at least one training window", field="features")
    flat = x.reshape(-1, x.shape[-1])
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    std = np.where(std < MIN_STD, 1.0, std)
    return Normalization(mean=mean.astype(np.float32), std=std.astype(np.float32))
