"""Shared helpers of the Model Development use cases: run lookup, run rows as dicts, run artifacts.

Kept separate so train, test, runs and the registry read runs the same way (one place maps ``RunRow``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import NotFoundError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.store.tables.learn import RunRow

VARIANT_ARTIFACTS = {"float32": "model_float32.tflite", "int8": "model_int8.tflite"}


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def get_run(s: Session, ref: str | None) -> RunRow:
    """A run by id or unique id prefix; ``None`` = the latest finished run."""
    if ref is None:
        row = s.execute(select(RunRow).where(RunRow.status.in_(("finished", "imported")))
                        .order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            raise NotFoundError("no training run yet (run 'eml train' first)")
        return row
    row = s.get(RunRow, ref)
    if row is not None:
        return row
    rows = list(s.execute(select(RunRow).where(RunRow.id.startswith(ref))).scalars())
    if len(rows) > 1:
        raise NotFoundError(f"run id prefix '{ref}' is ambiguous ({len(rows)} runs)")
    if not rows:
        raise NotFoundError(f"no run with id '{ref}'")
    return rows[0]


def sample_names(project: Project, sample_ids: Iterable[Any]) -> dict[str, str]:
    """Sample id -> name for the per-sample results (ids no longer in the store are left out)."""
    ids = sorted({str(i) for i in sample_ids})
    out: dict[str, str] = {}
    with project.session() as s:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out.update({r.id: r.name for r in s.execute(select(SampleRow).where(SampleRow.id.in_(chunk))).scalars()})
    return out


def run_summary(row: RunRow) -> dict[str, Any]:
    test = (row.metrics or {}).get("test", {})
    def pick(variant: str, key: str) -> Any:
        v = test.get(variant) or {}
        return v.get(key)
    return {
        "id": row.id, "status": row.status, "learning_type": row.learning_type,
        "created_at": row.created_at.isoformat() if row.created_at else None, "author": row.author,
        "seed": row.seed, "dataset_version": row.dataset_version_id,
        "impulse_hash": row.impulse_hash,
        "accuracy_float32": pick("float32", "accuracy"), "accuracy_int8": pick("int8", "accuracy"),
        "roc_auc": pick("model", "roc_auc"), "anomaly_accuracy": pick("model", "accuracy"),
        "mae_float32": pick("float32", "mae"),
    }


def run_dict(row: RunRow) -> dict[str, Any]:
    return {
        "id": row.id, "status": row.status, "learning_type": row.learning_type, "params": row.params,
        "seed": row.seed, "author": row.author,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "dataset_version": row.dataset_version_id, "impulse_hash": row.impulse_hash,
        "impulse_spec": row.impulse_spec, "metrics": row.metrics, "artifacts": row.artifacts,
    }


def artifact_bytes(project: Project, row: RunRow, name: str) -> bytes:
    digest = (row.artifacts or {}).get(name)
    if not digest:
        raise NotFoundError(f"run {row.id} has no artifact '{name}' (it has {sorted(row.artifacts or {})})")
    return project.blobs.get(digest)
