"""Helpers for the data-understanding tests: add constructed samples without the ingestion parsers."""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.sample import Sample, Sensor
from crisp_eml.data.samples import add_sample
from crisp_eml.store.project import Project


def wave(n: int = 200, axes: int = 3, seed: int = 0, freq_hz: float = 50.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / freq_hz
    return np.stack([np.sin(2 * np.pi * (1 + k + seed % 5) * t + seed) + 0.1 * rng.standard_normal(n)
                     for k in range(axes)], axis=1).astype(np.float32)


def add(
    project: Project, arr: np.ndarray, name: str, label: str | None, category: str = "training",
    frequency_hz: float | None = 50.0, metadata: dict[str, Any] | None = None, kind: str = "timeseries",
) -> Sample:
    axes = arr.shape[1] if arr.ndim == 2 else 1
    sensors = [Sensor(n) for n in ("x", "y", "z", "u", "v", "w")[:axes]] if kind != "image" else [Sensor("rgb")]
    with project.session() as s:
        return add_sample(project, s, arr, name=name, label=label, category=category, kind=kind, sensors=sensors,
                          frequency_hz=frequency_hz, source=f"test://{name}", metadata=metadata)


def small_dataset(project: Project, per_label: int = 5) -> list[Sample]:
    """Two labels, ``per_label`` samples each, 80/20-ish categories, a ``subject`` metadata key."""
    out = []
    for k in range(per_label * 2):
        label = "ab"[k % 2]
        out.append(add(project, wave(seed=k + 1), f"{label}.{k:02d}", label,
                       "testing" if k >= per_label * 2 - 2 else "training", metadata={"subject": f"p{k % 3}"}))
    return out
