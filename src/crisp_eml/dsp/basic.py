"""The ``raw`` and ``flatten`` blocks: the window itself, or per-axis summary statistics.

Both compute Edge Impulse's implementation version 1, so that version and the crisp-eml variant share the
code; the one difference: on a constant axis flatten's kurtosis is -3 at version 1 (Edge Impulse's scipy)
and 0 in the crisp variant.

``raw``: ``out[t, a] = x[t, a] * scale-axes``; output ``[window_len, axes]``.

``flatten``: per axis (axis-major), the enabled statistics in this fixed order over the scaled window
``x = window[:, a] * scale-axes``: average (mean), minimum, maximum, rms = sqrt(mean(x**2)), stdev
(population, ddof 0), skewness, kurtosis (see :func:`crisp_eml.dsp.base.moments`: biased central
moments, excess kurtosis, both 0 when the variance is <= 1e-12). Output ``[axes * n_enabled]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import CRISP, Block, Version, check_windows, moments, scale_axes

FLATTEN_STATS = ("average", "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis")


class RawBlock(Block):
    type = "raw"
    versions: ClassVar[tuple[Version, ...]] = (1, CRISP)  # Edge Impulse's version 1 is this block
    defaults: ClassVar[dict[str, Any]] = {"scale-axes": 1.0}

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._number("scale-axes")

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return (window_len, n_axes)

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        return scale_axes(self, check_windows(windows)).astype(np.float32)


class FlattenBlock(Block):
    type = "flatten"
    versions: ClassVar[tuple[Version, ...]] = (1, CRISP)  # Edge Impulse's version 1 is this block
    defaults: ClassVar[dict[str, Any]] = {"scale-axes": 1.0, **{k: True for k in FLATTEN_STATS}}

    def enabled(self) -> list[str]:
        return [k for k in FLATTEN_STATS if self._bool(k)]

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._number("scale-axes")
        if not self.enabled():
            raise InputError("enable at least one statistic", field="average")

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return (n_axes * len(self.enabled()),)

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        x = scale_axes(self, check_windows(windows)).transpose(0, 2, 1).astype(np.float64)  # [n, A, L]
        mu, sd, sk, ku = moments(x)
        if self.implementation_version == 1:
            # deliberate, Edge Impulse's version 1: scipy 1.7.3 (its pinned version) calls an axis constant when
            # its variance is at most (1e-15 * mean)**2 and then gives kurtosis -3 (Fisher of 0), skewness 0
            flat = sd * sd <= (1e-15 * mu) ** 2
            sk, ku = np.where(flat, 0.0, sk), np.where(flat, -3.0, ku)
        stats = {"average": mu, "minimum": x.min(axis=-1), "maximum": x.max(axis=-1),
                 "rms": np.sqrt((x * x).mean(axis=-1)), "stdev": sd, "skewness": sk, "kurtosis": ku}
        out = np.stack([stats[k] for k in self.enabled()], axis=-1)  # [n, A, S]
        return out.reshape(out.shape[0], -1).astype(np.float32)

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        return {"ops": 12 * window_len * n_axes, "working_bytes": 4 * (window_len + 8 * n_axes)}
