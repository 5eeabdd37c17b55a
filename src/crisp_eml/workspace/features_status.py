"""Use case: how far feature generation is for the current impulse (read only; generating is a job).

A sample's features are "generated" when the feature cache holds the entry of its cache key
(:func:`crisp_eml.workspace.features.cache_key`, the same key ``eml features generate`` writes), so a changed
block parameter shows every sample as missing again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crisp_eml.data.samples import list_samples
from crisp_eml.dsp.pipeline import feature_shape, n_features
from crisp_eml.store.project import Project
from crisp_eml.store.tables.impulse import FeatureCacheRow
from crisp_eml.workspace.features import cache_key
from crisp_eml.workspace.impulse import current_impulse

_CHUNK = 500  # keys per IN (...) query: well under SQLite's bound-parameter limit


def cached_features(project: Project, keys: list[str]) -> dict[str, tuple[str, int]]:
    """Cache key -> (blob hash, windows) of the keys whose features are cached (a read snapshot, in chunks)."""
    found: dict[str, tuple[str, int]] = {}
    with project.read_session() as s:
        for i in range(0, len(keys), _CHUNK):
            q = select(FeatureCacheRow.key, FeatureCacheRow.blob_hash, FeatureCacheRow.n_windows).where(
                FeatureCacheRow.key.in_(keys[i:i + _CHUNK]))
            found.update({k: (str(b), int(n)) for k, b, n in s.execute(q)})
    return found


def feature_status(project: Project, *, layer: str = "raw") -> dict[str, Any]:
    """Samples of ``layer`` with and without cached features for the current impulse, per category."""
    spec = current_impulse(project)
    samples = list_samples(project, layer=layer)
    keys = [cache_key(spec, s) for s in samples]
    found = {k: windows for k, (_, windows) in cached_features(project, keys).items()}
    categories: dict[str, dict[str, int]] = {}
    for sample, key in zip(samples, keys, strict=True):
        c = categories.setdefault(sample.category, {"samples": 0, "generated": 0, "windows": 0})
        c["samples"] += 1
        if key in found:
            c["generated"] += 1
            c["windows"] += found[key]
    generated = sum(c["generated"] for c in categories.values())
    return {"impulse_hash": spec.hash, "layer": layer, "n_features": n_features(spec),
            "feature_shape": list(feature_shape(spec)), "samples": len(samples), "generated": generated,
            "missing": len(samples) - generated, "windows": sum(c["windows"] for c in categories.values()),
            "up_to_date": generated == len(samples), "categories": categories}
