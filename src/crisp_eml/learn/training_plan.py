"""Training settings derived from the data when the learning block leaves them on ``auto`` (pure, no TensorFlow).

Three settings depend on how much data there is, not on what it is:

* ``validation``: ``"split"`` (one held-out split of whole recordings + early stopping) or ``"kfold"``
  (stratified, grouped k-fold cross-validation chooses the number of epochs, then the model trains on every
  training window). Auto picks k-fold when a 20 % split would hold fewer than 30 recordings (fewer than
  :data:`SMALL_GROUPS` groups) or fewer than 4 recordings of some class (fewer than
  :data:`SMALL_GROUPS_PER_CLASS` per class): such a split measures accuracy in steps of 3+ points and its
  noise, not the model, decides when early stopping stops (seen: epoch 22 kept at 76 % where training on
  reached 94 %).
* ``early_stopping_patience``: enough epochs for about :data:`PATIENCE_UPDATES` weight updates (few batches
  per epoch -> more epochs), between a tenth and a third of the epoch budget (at least 5).
* ``augment``: on for small data whose input is a raw time series (``raw-motion``), off otherwise; jitter
  and scaling only when each recording is one window (see :func:`auto_augment`).

A value the user set is kept; the reasons for the automatic ones are returned for the run's record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.features import FeatureSet
from crisp_eml.learn.blocks import VALIDATION_MODES, LearningBlock, infer_input_kind
from crisp_eml.learn.split import group_strata, groups_for

SMALL_GROUPS = 150
SMALL_GROUPS_PER_CLASS = 20
MAX_FOLDS = 5
PATIENCE_UPDATES = 200


@dataclass(frozen=True)
class TrainingPlan:
    validation: str  # "split" | "kfold"
    folds: int | None  # k-fold only
    early_stopping_patience: int
    augment: Any  # False, True or the user's option mapping
    small: bool
    groups: int
    reasons: list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        """The resolved values, as learning-block parameters (what a run stores)."""
        return {"validation": self.validation, "folds": self.folds,
                "early_stopping_patience": self.early_stopping_patience, "augment": self.augment}


def auto_patience(epochs: int, train_windows: int, batch_size: int) -> int:
    """Early-stopping patience for about :data:`PATIENCE_UPDATES` updates, within [epochs/10, epochs/3]."""
    per_epoch = max(1, math.ceil(train_windows / max(1, batch_size)))
    lo = max(5, math.ceil(epochs / 10))
    hi = max(lo, math.ceil(epochs / 3))
    return int(min(hi, max(lo, math.ceil(PATIENCE_UPDATES / per_epoch))))


def auto_augment(small: bool, kind: str, *, whole: bool) -> Any:
    """Augmentation for ``augment: null``: off unless small raw time-series data.

    When every group (recording) is a single window, the window is the whole, aligned recording: where a
    feature sits in time is information (e.g. the hour of a daily curve), so only jitter and scaling are used
    (measured on a daily-curve set: a 10 % shift cost 2-4 points, a 0.2 time warp 1 point).
    """
    if not (small and kind == "raw-motion"):
        return False
    return {"time_warp": 0.0, "shift": 0.0} if whole else True


def plan_training(params: dict[str, Any], *, groups: np.ndarray, labels: np.ndarray | None,
                  kind: str) -> TrainingPlan:
    """Resolve ``validation``, ``folds``, ``early_stopping_patience`` and ``augment`` for these windows.

    ``groups``: the group (recording, or ``keep_together`` value) of each training window; ``labels``: the
    class of each window for a classifier, ``None`` for a regressor.
    """
    strata = group_strata(groups, labels)
    n_groups = len(strata)
    per_class = ({c: list(strata.values()).count(c) for c in dict.fromkeys(strata.values())}
                 if labels is not None else {})
    fewest = min(per_class.values()) if per_class else n_groups
    small = n_groups < SMALL_GROUPS or (labels is not None and fewest < SMALL_GROUPS_PER_CLASS)
    reasons: list[str] = []
    what = (f"{n_groups} training group(s)" + (f", fewest per class {fewest}" if per_class else ""))
    mode = str(params.get("validation") or "auto")
    if mode not in VALIDATION_MODES:
        raise InputError(f"must be one of {list(VALIDATION_MODES)}, got {mode!r}", field="learning.params.validation")
    fraction = float(params.get("validation_split") or 0.0)
    if mode == "kfold" and n_groups < 2:
        raise InputError(f"k-fold validation needs at least 2 training groups (recordings), got {n_groups}",
                         field="learning.params.validation")
    if mode == "auto":
        if small and n_groups >= 2 and fraction > 0:
            mode = "kfold"
            reasons.append(f"validation: k-fold ({what}: fewer than {SMALL_GROUPS} groups or "
                           f"{SMALL_GROUPS_PER_CLASS} per class, so one held-out split is too small to choose "
                           "the epochs)")
        else:
            mode = "split"
            reasons.append(f"validation: one held-out split ({what})" if fraction > 0 else
                           "validation: none (validation_split is 0)")
    folds: int | None = None
    if mode == "kfold":
        want = params.get("folds")
        auto_folds = min(MAX_FOLDS, max(2, fewest))
        folds = min(int(want) if want else auto_folds, n_groups)
        if not want:
            reasons.append(f"folds: {folds} (at most {MAX_FOLDS}, at most the groups of the rarest class)")
    epochs = int(params.get("epochs") or 1)
    batch = int(params.get("batch_size") or 32)
    patience = params.get("early_stopping_patience")
    if patience is None:
        train_windows = len(groups) if mode == "kfold" else int(round(len(groups) * (1.0 - fraction)))
        patience = auto_patience(epochs, train_windows, batch)
        reasons.append(f"early_stopping_patience: {patience} (about {PATIENCE_UPDATES} updates of batch {batch}, "
                       f"within a tenth and a third of {epochs} epochs)"
                       + ("; unused: k-fold chooses the epochs" if mode == "kfold" else ""))
    augment = params.get("augment")
    if augment is None:
        augment = auto_augment(small, kind, whole=len(groups) == n_groups)
        reasons.append(f"augment: {augment} (on by default only for small data with raw time-series input, "
                       "without time warp and shift when each recording is one window; here "
                       f"{'small' if small else 'not small'}, input {kind}, "
                       f"{'one window' if len(groups) == n_groups else 'several windows'} per group)")
    return TrainingPlan(validation=mode, folds=folds, early_stopping_patience=int(patience), augment=augment,
                        small=small, groups=n_groups, reasons=reasons)


def plan_for(train_fs: FeatureSet, block: LearningBlock) -> TrainingPlan:
    """:func:`plan_training` for the training windows of a feature set (what ``train_nn`` and a run use)."""
    groups = groups_for(train_fs, block.params.get("keep_together"))
    labels = np.asarray([str(v) for v in train_fs.labels]) if block.type != "nn-regressor" else None
    kind = infer_input_kind(tuple(train_fs.feature_shape), block.params.get("input_kind"))
    return plan_training(block.params, groups=groups, labels=labels, kind=kind)
