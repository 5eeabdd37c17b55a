"""Feature sets: what the processing blocks produce and the learning blocks consume.

``X`` holds one row per window (float32, shape ``[n_windows, *feature_shape]``); ``labels`` the
window's label (its sample's label); ``sample_ids`` and ``categories`` tie each window back to its
sample for splits, per-sample results and lineage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FeatureSet:
    X: np.ndarray
    labels: np.ndarray  # str objects, one per window ('' when unlabeled)
    sample_ids: np.ndarray  # str objects, one per window
    categories: np.ndarray  # "training" | "testing", one per window
    feature_shape: tuple[int, ...]
    impulse_hash: str
    label_names: list[str] = field(default_factory=list)  # sorted distinct labels
    feature_names: list[str] = field(default_factory=list)
    metadata: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. keep-together key per window

    def subset(self, mask: np.ndarray) -> FeatureSet:
        return FeatureSet(
            X=self.X[mask], labels=self.labels[mask], sample_ids=self.sample_ids[mask],
            categories=self.categories[mask], feature_shape=self.feature_shape,
            impulse_hash=self.impulse_hash, label_names=list(self.label_names),
            feature_names=list(self.feature_names), metadata={k: v[mask] for k, v in self.metadata.items()},
        )

    def category(self, name: str) -> FeatureSet:
        return self.subset(self.categories == name)
