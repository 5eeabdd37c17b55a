"""Validation split that keeps windows of one group (a sample, or a metadata key such as a subject) together.

Windows cut from one recording are highly correlated; putting some in training and some in validation
inflates validation accuracy. Groups are shuffled with the run's seed, so splits are reproducible. The shuffle
starts from the order in which groups first appear (windows come ordered by sample name), not from sorted
sample ids: ids are random per project, so sorting them made the same data split differently in every project.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.features import FeatureSet


def groups_for(fs: FeatureSet, keep_together: str | None) -> np.ndarray:
    """The group of each window: the metadata column ``keep_together``, else the window's sample id."""
    if not keep_together:
        return np.asarray(fs.sample_ids).astype(str)
    if keep_together not in fs.metadata:
        raise InputError(f"no metadata key {keep_together!r} on the windows; known: {sorted(fs.metadata)}",
                         field="learning.params.keep_together")
    return np.asarray(fs.metadata[keep_together]).astype(str)


def validation_mask(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation windows: whole groups, about ``fraction`` of the windows."""
    n = len(groups)
    mask = np.zeros(n, dtype=bool)
    uniq = np.asarray(list(dict.fromkeys(groups.tolist())), dtype=object)  # first-appearance order, see below
    if fraction <= 0 or len(uniq) < 2:
        return mask
    rng = np.random.default_rng(seed)
    order = rng.permutation(uniq)
    target = fraction * n
    taken = 0
    for g in order[:-1]:  # never move every group to validation
        if taken >= target:
            break
        sel = groups == g
        mask |= sel
        taken += int(sel.sum())
    return mask
