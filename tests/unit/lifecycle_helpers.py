"""Build evidence for lifecycle tests by hand: a run with int8 test metrics, a registered model version,
a compiler manifest and a latency estimate, without training or compiling anything."""

from __future__ import annotations

import json
import uuid
from typing import Any

from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.store.tables.learn import ModelVersionRow, RunRow

LABELS = ["badminton", "running", "standing", "walking"]
CM = [[9, 1, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0], [0, 0, 2, 8]]  # 37/40 correct


def add_samples(project: Project, per_class: dict[str, int]) -> None:
    with project.session() as s:
        for label, n in per_class.items():
            for i in range(n):
                sid = uuid.uuid4().hex
                s.add(SampleRow(id=sid, name=f"{label}.{i}", label=label, category="training" if i % 4 else "testing",
                                kind="timeseries", sensors=[{"name": "x", "units": "g"}], frequency_hz=10.0,
                                length=100, shape=[100, 1], hash=sid * 2, meta={}, source="test"))


def add_model(project: Project, name: str = "motion", *, cm: list[list[int]] | None = None,
              manifest: dict[str, Any] | None = None, latency_ms: float | None = 4.0,
              target: str = "cortex-m4f-80mhz", quality: float | None = 90.0) -> str:
    """Register ``name`` (next version) with evidence; returns its models:/ URI."""
    run_id = uuid.uuid4().hex
    metrics = {"test": {"int8": {"labels": LABELS, "confusion_matrix": cm or CM},
                        "float32": {"accuracy": 0.95, "labels": LABELS}}}
    with project.session() as s:
        version = 1 + sum(1 for _ in s.query(ModelVersionRow).filter(ModelVersionRow.name == name))
        s.add(RunRow(id=run_id, status="finished", learning_type="nn-classifier", params={}, metrics=metrics,
                     artifacts={}, seed=1, author="tester"))
        s.flush()
        s.add(ModelVersionRow(name=name, version=version, run_id=run_id))
        uri = f"models:/{name}/{version}"
        if manifest is not None:
            digest = project.blobs.put(json.dumps(manifest).encode())
            project.record(s, "compile.library", {"model": uri, "run": run_id, "manifest": digest, "target": target})
        if latency_ms is not None:
            project.record(s, "profile.estimate", {"model": uri, "target": target, "latency_ms": latency_ms})
        if quality is not None:
            project.record(s, "data.check", {"score": quality})
    return uri


MANIFEST = {"arena_bytes": 12000, "ram_bytes": 14000, "weights_bytes": 20000, "code_bytes": 9000}
