"""Use case ``features generate``: the impulse applied to every sample's windows, cached in the blob store.

Each sample's features (float32 ``[n_windows, n_features]`` as ``.npy``) are cached under a deterministic
key: sha256 of (sample hash, sample frequency and axes, input block, each block's type, full parameters,
axes and version). ``feature_cache`` maps key -> blob, so unchanged work is never redone; a changed block
parameter or version gives new keys. Missing entries are computed in worker processes
(``ProcessPoolExecutor``, default ``min(2, cpu)`` workers) and stored from the parent process.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from crisp_eml.core.errors import InputError, PermissionDeniedError
from crisp_eml.core.features import FeatureSet
from crisp_eml.core.impulse import ImageInput, ImpulseSpec
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data.samples import decode_array, encode_array, list_samples, load_array
from crisp_eml.dsp.pipeline import block_instance, feature_names, feature_shape, features_from_signal, n_features
from crisp_eml.store.project import Project
from crisp_eml.store.tables.impulse import FeatureCacheRow

Progress = Callable[[int, int, str], None]
POOL_MIN_TASKS = 4  # below this many uncached samples, computing in-process is faster than a pool


@dataclass
class GenerationStats:
    samples: int = 0
    windows: int = 0
    cache_hits: int = 0
    computed: int = 0
    skipped: list[str] = field(default_factory=list)  # samples with no window (shorter, no padding)
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "windows": self.windows, "cache_hits": self.cache_hits,
                "computed": self.computed, "skipped": list(self.skipped), "workers": self.workers}


def cache_key(spec: ImpulseSpec, sample: Sample) -> str:
    blocks = []
    for b in spec.blocks:
        blk = block_instance(spec, b)
        # the crisp variant keys as "1", the version every block reported before versions existed: caches stay
        version = "1" if blk.version == "crisp" else f"ei-{blk.version}"
        blocks.append({"type": b.type, "params": blk.get_params(), "axes": list(b.axes) if b.axes else None,
                       "version": version})
    payload = {"sample": sample.hash, "frequency_hz": sample.frequency_hz, "axes": sample.axes,
               "input": spec.input.to_dict(), "blocks": blocks}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _compute(spec_dict: dict[str, Any], signal: np.ndarray, frequency_hz: float | None,
             axes: list[str]) -> np.ndarray:
    spec = ImpulseSpec.from_dict(spec_dict)
    if isinstance(spec.input, ImageInput):
        return features_from_signal(spec, signal)
    return features_from_signal(spec, signal, frequency_hz, axes)


def _check_kind(spec: ImpulseSpec, s: Sample) -> None:
    image = isinstance(spec.input, ImageInput)
    if image != (s.kind == "image"):
        raise InputError(f"a {s.kind} sample does not fit a {'image' if image else 'time-series'} impulse",
                         source=s.name)
    if not image:
        missing = [a for a in spec.input.axes if a not in s.axes]
        if missing:
            raise InputError(f"sample has no axis {missing[0]!r} (it has {s.axes})", source=s.name)


def generate_features_report(
    project: Project, spec: ImpulseSpec | None = None, *, layer: str = "raw", category: str | None = None,
    on_progress: Progress | None = None, workers: int | None = None,
) -> tuple[FeatureSet, GenerationStats]:
    """Features for every enabled sample of ``layer`` (optionally one ``category``) plus statistics."""
    if workers is not None and not 1 <= workers <= 256:
        raise InputError(f"must be between 1 and 256 processes, got {workers}", field="workers")
    try:
        project.require(Permission.DESIGN_IMPULSE)
    except PermissionDeniedError:
        project.require(Permission.TRAIN)
    if spec is None:
        from crisp_eml.workspace.impulse import current_impulse

        spec = current_impulse(project)
    samples = list_samples(project, layer=layer, category=category)
    for s in samples:
        _check_kind(spec, s)
    nf = n_features(spec)
    stats = GenerationStats(samples=len(samples))
    keys = [cache_key(spec, s) for s in samples]
    with project.session() as sess:
        rows = {r.key: r for r in sess.execute(select(FeatureCacheRow).where(FeatureCacheRow.key.in_(keys))).scalars()}
    results: dict[int, np.ndarray] = {}
    todo: list[int] = []
    done = 0
    total = len(samples)
    for i, k in enumerate(keys):
        row = rows.get(k)
        if row is not None and project.blobs.exists(row.blob_hash):
            results[i] = decode_array(project.blobs.get(row.blob_hash))
            stats.cache_hits += 1
            done += 1
            if on_progress:
                on_progress(done, total, samples[i].name)
        else:
            todo.append(i)
    spec_dict = spec.to_dict()
    n_workers = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
    stats.workers = n_workers if len(todo) >= POOL_MIN_TASKS and n_workers > 1 else 1
    new_rows: list[FeatureCacheRow] = []

    def finish(i: int, feats: np.ndarray) -> None:
        nonlocal done
        feats = np.asarray(feats, dtype=np.float32).reshape(-1, nf)
        digest = project.blobs.put(encode_array(feats))
        new_rows.append(FeatureCacheRow(key=keys[i], blob_hash=digest, sample_hash=samples[i].hash,
                                        n_windows=int(feats.shape[0]), n_features=nf))
        results[i] = feats
        stats.computed += 1
        done += 1
        if on_progress:
            on_progress(done, total, samples[i].name)

    def args(i: int) -> tuple[Any, ...]:
        s = samples[i]
        return spec_dict, load_array(project, s), s.frequency_hz, s.axes

    if stats.workers > 1:
        with ProcessPoolExecutor(max_workers=stats.workers) as pool:
            futures = {i: pool.submit(_compute, *args(i)) for i in todo}
            for i in todo:
                finish(i, futures[i].result())
    else:
        for i in todo:
            finish(i, _compute(*args(i)))
    with project.session() as sess:
        for r in new_rows:
            sess.merge(r)
        if new_rows:
            project.record(sess, "features.generate", {
                "impulse_hash": spec.hash, "computed": len(new_rows), "cache_hits": stats.cache_hits,
                "blobs": sorted({r.blob_hash for r in new_rows})[:50]})
    fs = _assemble(spec, samples, results, nf, stats)
    return fs, stats


def _assemble(spec: ImpulseSpec, samples: list[Sample], results: dict[int, np.ndarray], nf: int,
              stats: GenerationStats) -> FeatureSet:
    xs, labels, ids, cats = [], [], [], []
    meta_keys = sorted({k for s in samples for k in s.metadata})
    meta: dict[str, list[str]] = {k: [] for k in meta_keys}
    for i, s in enumerate(samples):
        f = results[i]
        if f.shape[0] == 0:
            stats.skipped.append(s.name)
            continue
        xs.append(f)
        n = f.shape[0]
        labels += [s.label or ""] * n
        ids += [s.id] * n
        cats += [s.category] * n
        for k in meta_keys:
            v = s.metadata.get(k)
            meta[k] += ["" if v is None else str(v)] * n
    shape = feature_shape(spec)
    x = np.concatenate(xs, axis=0) if xs else np.zeros((0, nf), dtype=np.float32)
    stats.windows = int(x.shape[0])
    lab = np.array(labels, dtype=object)
    return FeatureSet(
        X=x.reshape(x.shape[0], *shape).astype(np.float32), labels=lab, sample_ids=np.array(ids, dtype=object),
        categories=np.array(cats, dtype=object), feature_shape=shape, impulse_hash=spec.hash,
        label_names=sorted({v for v in labels if v}), feature_names=feature_names(spec),
        metadata={k: np.array(v, dtype=object) for k, v in meta.items()},
    )


def generate_features(
    project: Project, spec: ImpulseSpec | None = None, *, layer: str = "raw", category: str | None = None,
    on_progress: Progress | None = None, workers: int | None = None,
) -> FeatureSet:
    """Features for every window of every enabled sample (cached; see the module docstring)."""
    fs, _ = generate_features_report(project, spec, layer=layer, category=category, on_progress=on_progress,
                                     workers=workers)
    return fs
