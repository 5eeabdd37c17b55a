"""Validation splits and cross-validation folds that keep windows of one group (a sample, or a metadata key such
as a subject) together.

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


def group_strata(groups: np.ndarray, strata: np.ndarray | None) -> dict[str, str]:
    """The stratum (class) of each group: its most frequent value, ties to the first seen; '' without strata."""
    values = np.asarray(strata).tolist() if strata is not None else [""] * len(groups)
    counts: dict[str, dict[str, int]] = {}
    for g, v in zip(groups.tolist(), values, strict=True):
        c = counts.setdefault(str(g), {})
        c[str(v)] = c.get(str(v), 0) + 1
    return {g: max(c, key=c.__getitem__) for g, c in counts.items()}  # first maximum in first-seen order


def fold_ids(groups: np.ndarray, strata: np.ndarray | None, folds: int, seed: int) -> np.ndarray:
    """The cross-validation fold (0 .. ``folds``-1) of each window: whole groups, stratified by class.

    The groups of each class are shuffled with the seed and dealt round-robin to the folds, the dealing
    continuing from class to class, so each fold gets about 1/``folds`` of every class and of all groups.
    Classes are taken in first-appearance order and groups start from first-appearance order (see
    :func:`validation_mask`), so the same data and seed give the same folds in any project.
    """
    if folds < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {folds}", field="learning.params.folds")
    per_group = group_strata(groups, strata)
    rng = np.random.default_rng([seed, 17])
    assigned: dict[str, int] = {}
    dealt = 0
    for stratum in dict.fromkeys(per_group.values()):
        members = np.asarray([g for g, s in per_group.items() if s == stratum], dtype=object)
        for g in rng.permutation(members).tolist():
            assigned[str(g)] = dealt % folds
            dealt += 1
    return np.asarray([assigned[str(g)] for g in groups.tolist()], dtype=np.int64)
