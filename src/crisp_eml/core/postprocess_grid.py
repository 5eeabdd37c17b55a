"""Vectorised post-processing for calibration: the detections of many settings on one stream's output codes.

``eml calibrate`` runs the model once over an hour-long stream and then tries a grid of post-processing
settings (moving-average length, threshold, suppression). Stepping :class:`~crisp_eml.core.postprocess.
Postprocessor` once per step and setting would take minutes; this computes the same detections with numpy:
the moving code sums are a cumulative-sum difference, the candidate label per step an ``argmax`` over the
margins, and only the suppression (a detection blocks the next ``S`` steps) is a loop, over detections only.
The result is identical to :func:`crisp_eml.core.postprocess.detections` (tests/unit/test_postprocess_fast.py).
"""

from __future__ import annotations

import numpy as np

from crisp_eml.core.postprocess import PostprocessConfig, need_sums


def code_sums(codes: np.ndarray, average_windows: int, zero_point: int) -> np.ndarray:
    """``int64 [steps, labels]``: the sum of the last ``N`` code vectors at each step, the ring starting full of
    the clamped zero point (as the C and the Python twin start)."""
    c = np.asarray(codes, dtype=np.int64)
    if c.ndim != 2:
        raise ValueError(f"codes must be [steps, labels], got shape {c.shape}")
    n = int(average_windows)
    start = min(127, max(-128, int(zero_point)))
    padded = np.concatenate([np.full((n - 1, c.shape[1]), start, dtype=np.int64), c])
    cs = np.concatenate([np.zeros((1, c.shape[1]), dtype=np.int64), np.cumsum(padded, axis=0)])
    out: np.ndarray = cs[n:] - cs[:-n]
    return out


def candidates(sums: np.ndarray, need: np.ndarray | list[int]) -> np.ndarray:
    """Label that would fire at each step without suppression (largest margin, ties: lowest index), else -1."""
    margin = sums - np.asarray(need, dtype=np.int64)[None, :]
    masked = np.where(margin >= 0, margin, -1)
    if masked.shape[1] == 0:
        return np.full(len(sums), -1, dtype=np.int32)
    best = np.argmax(masked, axis=1)
    out: np.ndarray = np.where(masked[np.arange(len(masked)), best] >= 0, best, -1).astype(np.int32)
    return out


def suppress(cand: np.ndarray, suppression_steps: int) -> np.ndarray:
    """Detections per step: a candidate fires unless it lies within ``S`` steps after the previous detection."""
    out = np.full(len(cand), -1, dtype=np.int32)
    idx = np.flatnonzero(cand >= 0)
    j, gap = 0, int(suppression_steps) + 1
    while j < len(idx):
        t = int(idx[j])
        out[t] = cand[t]
        j = int(np.searchsorted(idx, t + gap, side="left"))
    return out


def detections_fast(codes: np.ndarray, cfg: PostprocessConfig, scale: float, zero_point: int) -> np.ndarray:
    """Same result as :func:`crisp_eml.core.postprocess.detections`, vectorised."""
    sums = code_sums(codes, cfg.average_windows, zero_point)
    need = np.asarray(need_sums(cfg, scale, zero_point), dtype=np.int64)
    return suppress(candidates(sums, need), cfg.suppression_steps)
