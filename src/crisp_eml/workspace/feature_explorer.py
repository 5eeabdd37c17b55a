"""Use case: the feature explorer's points (the Studio's scatter), read from the feature cache only.

``eml features explore`` generates what is missing, stores the embedding and audits it; the Studio needs a cheap,
read-only view it can ask for on every page load: the windows whose features are already cached for the current
impulse, standardised and embedded in 2-D (PCA by default), each point naming its sample so a click opens it.
Samples without cached features are counted as ``missing`` (generating them is a ``features`` job).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.data.samples import decode_array, list_samples
from crisp_eml.store.project import Project
from crisp_eml.workspace.explore import embed, standardize
from crisp_eml.workspace.features import cache_key
from crisp_eml.workspace.features_status import cached_features
from crisp_eml.workspace.impulse import current_impulse

METHODS = ("pca", "tsne")
MAX_POINTS = 20_000  # windows one answer embeds and returns (evenly thinned above this)
MAX_TSNE_POINTS = 3_000  # t-SNE is quadratic: above this many windows only PCA is offered
SILHOUETTE_SAMPLE = 2_000


def _silhouette(e: np.ndarray, labels: list[str]) -> float | None:
    keep = np.array([lab != "" for lab in labels])
    lab = np.array(labels, dtype=object)[keep].astype(str)
    if len(set(lab)) < 2 or len(lab) <= len(set(lab)):
        return None
    from sklearn.metrics import silhouette_score

    size = min(SILHOUETTE_SAMPLE, len(lab))
    return float(silhouette_score(e[keep], lab, sample_size=size, random_state=0))


def explorer_points(project: Project, *, method: str = "pca", layer: str = "raw", category: str | None = None,
                    max_points: int = MAX_POINTS) -> dict[str, Any]:
    """2-D points of every cached feature window of the current impulse (see the module docstring)."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; one of {list(METHODS)}", field="method")
    if not 1 <= max_points <= MAX_POINTS:
        raise InputError(f"must be between 1 and {MAX_POINTS}, got {max_points}", field="max_points")
    spec = current_impulse(project)
    samples = list_samples(project, layer=layer, category=category)
    keys = [cache_key(spec, s) for s in samples]
    cached = {k: blob for k, (blob, _) in cached_features(project, keys).items()}
    xs: list[np.ndarray] = []
    meta: list[tuple[int, int]] = []  # (sample index, window index) per row
    non_finite: list[str] = []
    missing = 0
    for i, (sample, key) in enumerate(zip(samples, keys, strict=True)):
        blob = cached.get(key)
        if blob is None or not project.blobs.exists(blob):
            missing += 1
            continue
        f = decode_array(project.blobs.get(blob)).astype(np.float64)
        f = f.reshape(f.shape[0], -1)
        ok = np.isfinite(f).all(axis=1)
        if not ok.all():
            non_finite.append(sample.name)
        xs.append(f[ok])
        meta += [(i, int(w)) for w in np.flatnonzero(ok)]
    result: dict[str, Any] = {
        "impulse_hash": spec.hash, "method": method, "layer": layer, "category": category,
        "samples": len(samples), "generated": len(samples) - missing, "missing": missing,
        "non_finite": non_finite[:20], "windows": len(meta), "thinned": False, "silhouette": None,
        "labels": sorted({s.label for s in samples if s.label}), "points": [],
    }
    if len(meta) < 3:
        result["reason"] = ("generate features first" if missing else "need at least 3 windows to embed")
        return result
    x = np.concatenate(xs, axis=0)
    if len(meta) > max_points:  # evenly thinned, so every part of the dataset stays visible
        pick = np.unique(np.linspace(0, len(meta) - 1, max_points).round().astype(int))
        x, meta = x[pick], [meta[j] for j in pick]
        result["thinned"] = True
    if method == "tsne" and len(meta) > MAX_TSNE_POINTS:
        raise InputError(f"t-SNE embeds at most {MAX_TSNE_POINTS} windows ({len(meta)} here); use pca or "
                         "ask for fewer points (max_points)", field="method")
    e = embed(standardize(x), method)
    labels = [samples[i].label or "" for i, _ in meta]
    result["silhouette"] = _silhouette(e, labels)
    result["points"] = [
        {"x": round(float(e[j, 0]), 5), "y": round(float(e[j, 1]), 5), "label": labels[j],
         "sample_id": samples[i].id, "name": samples[i].name, "category": samples[i].category, "window": w}
        for j, (i, w) in enumerate(meta)]
    return result
