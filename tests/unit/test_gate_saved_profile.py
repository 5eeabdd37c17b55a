"""Saved profiles (``compiler.profile`` audit entries) are gate evidence for the same model bytes and target."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lifecycle_helpers import MANIFEST, add_model
from sqlalchemy import select

from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import ModelVersionRow, RunRow

TARGET = "cortex-m4f-80mhz"


def _model_with_bytes(project: Project, data: bytes) -> str:
    uri = add_model(project, manifest=MANIFEST, latency_ms=None)
    with project.session() as s:
        mv = s.execute(select(ModelVersionRow).order_by(ModelVersionRow.version.desc())).scalars().first()
        assert mv is not None
        run = s.get(RunRow, mv.run_id)
        assert run is not None
        run.artifacts = {"model_int8.tflite": project.blobs.put(data)}
    return uri


def _save(project: Project, sha: str, target: str, ram: int, flash: int, latency: float) -> None:
    with project.session() as s:
        project.record(s, "compiler.profile", {"target": target, "model_sha256": sha, "ram_bytes": ram,
                                               "flash_bytes": flash, "latency_ms": latency, "library": "m"})


def test_gate_uses_the_latest_saved_profile_for_model_and_target(project: Project, tmp_path: Path) -> None:
    from crisp_eml.workspace.gate import run_gate
    from crisp_eml.workspace.requirements import set_requirements

    data = b"model bytes A"
    uri = _model_with_bytes(project, data)
    sha = hashlib.sha256(data).hexdigest()
    set_requirements(project, [f"target={TARGET}", "max_ram=20k", "max_latency_ms=10"])
    no_profile = {r["requirement"]: r for r in run_gate(project, uri).rows}
    assert not no_profile["max_latency_ms"]["passed"] and no_profile["max_latency_ms"]["measured"] is None
    assert no_profile["max_ram_bytes"]["measured"] == MANIFEST["ram_bytes"]
    _save(project, sha, TARGET, 900, 1000, 30.0)  # older, superseded below
    _save(project, sha, TARGET, 950, 1200, 12.5)
    _save(project, sha, "cortex-m0plus-48mhz", 1, 1, 0.1)  # another target: ignored
    _save(project, hashlib.sha256(b"other").hexdigest(), TARGET, 1, 1, 0.1)  # other model bytes: ignored
    g = run_gate(project, uri)
    rows = {r["requirement"]: r for r in g.rows}
    assert rows["max_latency_ms"]["measured"] == 12.5 and not g.passed
    assert rows["max_ram_bytes"]["measured"] == 950  # measured profile beats the manifest estimate
    assert rows["max_latency_ms"]["source"].startswith(f"saved profile on {TARGET}")
    set_requirements(project, ["max_latency_ms=20"])
    assert run_gate(project, uri).passed
