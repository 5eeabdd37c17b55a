"""Choosing the number of training epochs from k-fold validation curves (pure, no TensorFlow).

Each fold trains for the whole epoch budget and records its validation loss and accuracy per epoch. The
curves are averaged over folds and smoothed with a centred moving average (about 5 % of the budget on each
side), so one lucky epoch of one fold does not decide. A classifier takes the epoch with the best smoothed
accuracy; epochs within :data:`ACCURACY_TOLERANCE` of it are ties the folds cannot tell apart, and the latest
of them is taken: the final model trains on more windows than any fold, and on small data stopping too early
was the costly mistake (italy-power-demand, 5 folds over 67 recordings: the CV accuracy plateaus at ~97 %
from epoch 13; the lowest-loss tie chose epochs 30-37 and tested at 94.3-96.1 %, the latest tie 55-60 and
96.3-97.2 %). A regressor takes the lowest smoothed loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ACCURACY_TOLERANCE = 0.005


@dataclass(frozen=True)
class EpochChoice:
    epochs: int  # 1-based epoch count for the final model
    mean_curves: dict[str, list[float]]  # "val_loss", "val_accuracy"/"val_mae": mean over folds, per epoch
    fold_values: dict[str, list[float]]  # the same metrics at the chosen epoch, one per fold
    smoothing: int  # moving-average width (epochs)

    def summary(self) -> dict[str, Any]:
        """Mean and standard deviation over folds at the chosen epoch, per metric (``cv_accuracy_mean``...)."""
        out: dict[str, Any] = {"chosen_epochs": self.epochs, "smoothing_epochs": self.smoothing}
        for key, vals in self.fold_values.items():
            name = key.removeprefix("val_")
            out[f"cv_{name}_mean"] = float(np.mean(vals))
            out[f"cv_{name}_std"] = float(np.std(vals))
            out[f"cv_{name}_folds"] = [float(v) for v in vals]
        return out


def smoothing_width(epochs: int) -> int:
    """An odd moving-average width: 2 * round(epochs / 20) + 1 (1 for budgets under 10 epochs)."""
    return 2 * int(math.floor(epochs / 20 + 0.5)) + 1


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average; near the ends the window shrinks to the epochs that exist."""
    v = np.asarray(values, dtype=np.float64)
    half = max(0, width // 2)
    if half == 0 or len(v) == 0:
        return v.copy()
    csum = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(len(v))
    lo, hi = np.maximum(0, idx - half), np.minimum(len(v), idx + half + 1)
    out: np.ndarray = (csum[hi] - csum[lo]) / (hi - lo)
    return out


def choose_epochs(fold_histories: list[dict[str, list[float]]], task: str) -> EpochChoice:
    """The epoch count whose mean (over folds), smoothed validation metric is best; see the module doc."""
    if not fold_histories:
        raise ValueError("no fold histories")
    n = min(len(h.get("val_loss") or []) for h in fold_histories)
    if n == 0:
        raise ValueError("fold histories have no validation loss")
    keys = ["val_loss"] + (["val_accuracy"] if task == "classification" else
                           ["val_mae"] if all("val_mae" in h for h in fold_histories) else [])
    curves = {k: np.asarray([h[k][:n] for h in fold_histories], dtype=np.float64) for k in keys}
    loss = curves["val_loss"]
    finite = np.isfinite(loss)  # a diverged fold (NaN/Inf loss) counts as very bad, not as missing
    loss = np.where(finite, loss, float(loss[finite].max()) * 10 + 1 if finite.any() else 1e9)
    width = smoothing_width(n)
    s_loss = smooth(loss.mean(axis=0), width)
    valid: np.ndarray = np.asarray(finite.all(axis=0))  # an epoch where some fold diverged is never chosen
    if not valid.any():  # (unless all did)
        valid = np.ones_like(valid)
    if task == "classification":
        s_acc = np.where(valid, smooth(np.mean(curves["val_accuracy"], axis=0), width), -np.inf)
        ties = np.flatnonzero(s_acc >= s_acc.max() - ACCURACY_TOLERANCE)
        best = int(ties[-1])
    else:
        best = int(np.argmin(np.where(valid, s_loss, np.inf)))
    mean_curves = {k: [float(x) for x in np.mean(c, axis=0)] for k, c in curves.items()}
    fold_values = {k: [float(x) for x in c[:, best]] for k, c in curves.items()}
    return EpochChoice(epochs=best + 1, mean_curves=mean_curves, fold_values=fold_values, smoothing=width)
