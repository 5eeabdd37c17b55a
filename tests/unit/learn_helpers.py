"""Synthetic feature sets for the learning tests (small, separable, deterministic)."""

from __future__ import annotations

import numpy as np

from crisp_eml.core.features import FeatureSet


def blobs(n_per_class: int = 40, n_features: int = 8, classes: int = 3, seed: int = 0, sep: float = 3.0,
          test_fraction: float = 0.3, shape: tuple[int, ...] | None = None) -> FeatureSet:
    """``classes`` Gaussian blobs, 4 windows per sample, testing = the last ``test_fraction`` of samples."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, n_features)) * sep
    X, labels, sids, cats = [], [], [], []
    for c in range(classes):
        for i in range(n_per_class):
            X.append(centers[c] + rng.standard_normal(n_features))
            labels.append(f"class{c}")
            sample = i // 4
            sids.append(f"c{c}-s{sample}")
            cats.append("testing" if i >= n_per_class * (1 - test_fraction) else "training")
    arr = np.asarray(X, dtype=np.float32)
    fshape = shape or (n_features,)
    return FeatureSet(X=arr.reshape(len(arr), *fshape), labels=np.array(labels, dtype=object),
                      sample_ids=np.array(sids, dtype=object), categories=np.array(cats, dtype=object),
                      feature_shape=fshape, impulse_hash="synthetic", label_names=sorted(set(labels)))
