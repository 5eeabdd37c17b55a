"""Post-processing of a classifier's per-window outputs on a continuous stream (keyword-spotting practice).

Raw per-window scores fire on every noisy window; what ships is a moving average over the last N windows, a
detection threshold per label and a suppression time after each detection. This is the pure-Python twin of
``eml_postprocess.c`` (rendered into every classifier library): both work on the int8 output codes with integer
sums and integer thresholds, so their results are identical, not merely close.

``need[k] = ceil(N * (thr_k / scale + zero_point))`` in float64 from the float32 threshold and scale (the C
computes the same expression in ``double``). A label fires when its code sum over the last N windows reaches
``need[k]``; among several, the largest margin wins (ties: lowest index); then nothing fires for S steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError

#: Labels that are never detected by default (the "nothing happened" classes).
BACKGROUND_LABELS = frozenset({"noise", "unknown", "_unknown", "background", "silence", "idle", "other",
                               "_noise"})
MAX_AVERAGE_WINDOWS = 64
DEFAULT_AVERAGE_WINDOWS = 3
DEFAULT_THRESHOLD = 0.6
#: A threshold above 1.0 never fires (scores are probabilities).
NEVER = 2.0
#: the smallest magnitude that rounds to float32 infinity
FLOAT32_OVERFLOW = 2.0**128 - 2.0**103


def is_background(label: str) -> bool:
    return label.strip().lower() in BACKGROUND_LABELS


def default_thresholds(labels: Sequence[str]) -> list[float]:
    return [NEVER if is_background(lb) else DEFAULT_THRESHOLD for lb in labels]


@dataclass(frozen=True)
class PostprocessConfig:
    """One post-processing setting: moving average length, per-label thresholds, suppression in steps."""

    average_windows: int
    thresholds: tuple[float, ...]
    suppression_steps: int
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 1 <= self.average_windows <= MAX_AVERAGE_WINDOWS:
            raise InputError(f"must be between 1 and {MAX_AVERAGE_WINDOWS}, got {self.average_windows}",
                             field="average_windows")
        if self.suppression_steps < 0:
            raise InputError(f"must be >= 0, got {self.suppression_steps}", field="suppression_steps")
        for i, t in enumerate(self.thresholds):
            # finite as float32 (the C takes float thresholds: 1e39 would be inf there)
            if not (isinstance(t, int | float) and math.isfinite(t) and 0 <= t < FLOAT32_OVERFLOW):
                raise InputError(f"must be a finite float32 >= 0, got {t!r}", field=f"thresholds[{i}]")
        if self.labels and len(self.labels) != len(self.thresholds):
            raise InputError(f"{len(self.thresholds)} thresholds for {len(self.labels)} labels", field="thresholds")

    @classmethod
    def default(cls, labels: Sequence[str], slices_per_window: int) -> PostprocessConfig:
        return cls(DEFAULT_AVERAGE_WINDOWS, tuple(default_thresholds(labels)), max(0, slices_per_window),
                   tuple(labels))

    def to_dict(self) -> dict[str, Any]:
        return {"average_windows": self.average_windows, "thresholds": list(self.thresholds),
                "suppression_steps": self.suppression_steps, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PostprocessConfig:
        try:
            return cls(int(d["average_windows"]), tuple(float(t) for t in d["thresholds"]),
                       int(d["suppression_steps"]), tuple(str(x) for x in d.get("labels") or ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a post-processing setting: {exc}", field="postprocess") from exc


def suppression_steps(suppression_ms: float, step_ms: float) -> int:
    """Steps (results) covered by a suppression time: ``ceil(ms / step_ms)``."""
    if suppression_ms < 0 or step_ms <= 0:
        raise InputError(f"suppression {suppression_ms} ms with a step of {step_ms} ms", field="suppression_ms")
    return math.ceil(suppression_ms / step_ms)


def need_sums(cfg: PostprocessConfig, scale: float, zero_point: int) -> list[int]:
    """The integer code-sum each label must reach (the C computes the same double expression)."""
    s = float(np.float32(scale))
    out = []
    for t in cfg.thresholds:
        v = cfg.average_windows * (float(np.float32(t)) / s + zero_point)
        out.append(int(min(max(math.ceil(v), -(2**31)), 2**31 - 1)))
    return out


class Postprocessor:
    """Stateful twin of ``eml_pp_step``: feed one int8 output vector per step, get the detected label or -1."""

    def __init__(self, cfg: PostprocessConfig, scale: float, zero_point: int) -> None:
        self.cfg = cfg
        self.scale = float(np.float32(scale))
        self.zero_point = int(zero_point)
        self.need = need_sums(cfg, scale, zero_point)
        n_labels = len(cfg.thresholds)
        start = min(127, max(-128, self.zero_point))
        self.ring = np.full((cfg.average_windows, n_labels), start, dtype=np.int32)
        self.sums = [start * cfg.average_windows] * n_labels
        self.pos = 0
        self.suppress_left = 0

    def step(self, codes: Sequence[int] | np.ndarray) -> int:
        row = np.asarray(codes, dtype=np.int32)
        old = self.ring[self.pos]
        self.sums = [s - int(o) + int(c) for s, o, c in zip(self.sums, old, row, strict=True)]
        self.ring[self.pos] = row
        self.pos = (self.pos + 1) % self.cfg.average_windows
        if self.suppress_left > 0:
            self.suppress_left -= 1
            return -1
        best, margin = -1, 0
        for k, (s, need) in enumerate(zip(self.sums, self.need, strict=True)):
            if s >= need and (best < 0 or s - need > margin):
                best, margin = k, s - need
        if best >= 0:
            self.suppress_left = self.cfg.suppression_steps
        return best

    def averages(self) -> list[float]:
        n = self.cfg.average_windows
        return [float(np.float32(self.scale * (s / n - self.zero_point))) for s in self.sums]


def detections(codes: np.ndarray, cfg: PostprocessConfig, scale: float, zero_point: int) -> np.ndarray:
    """Detected label index (or -1) per step for an ``[steps, labels]`` int8 code matrix."""
    pp = Postprocessor(cfg, scale, zero_point)
    return np.array([pp.step(row) for row in np.asarray(codes)], dtype=np.int32)
