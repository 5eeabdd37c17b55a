"""Use case: a run's latest test results per model variant, for the Studio's "Model testing" page.

``eml train`` tests both variants (float32, int8; ``model`` for anomaly blocks) and stores the metrics in the run
(``metrics.test``); ``eml test`` run as a background job keeps its metrics as the job's result. This module merges
the two: for each variant the newest succeeded ``test`` job of the run wins over the training-time metrics. Each
variant's per-sample results come misclassified first (then least confident), each naming its sample.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import NotFoundError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.server import JobRow
from crisp_eml.workspace.runs_common import get_run

RECENT_JOBS = 200  # newest test jobs looked at for a run's results


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _order(per_sample: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    """Per-sample results, worst first: misclassified, then uncertain / least confident (regression: largest
    error first). Each row gets ``correct`` (None for regression) and ``error`` where it applies."""
    rows = []
    for p in per_sample:
        r = dict(p)
        if task == "anomaly":
            r["predicted"] = "anomaly" if r.get("anomaly") else "normal"
            r["correct"] = bool(r.get("anomaly")) == bool(r.get("expected_anomaly"))
        elif task == "regression":
            r["correct"] = None
            r["error"] = float(r.get("predicted", 0.0)) - float(r.get("label", 0.0))
        rows.append(r)
    if task == "regression":
        return sorted(rows, key=lambda r: -abs(r["error"]))
    return sorted(rows, key=lambda r: (bool(r["correct"]), float(r.get("confidence", 1.0))))


def _variant(metrics: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    task = str(metrics.get("task", "classification"))
    per_sample = _order(list(metrics.get("per_sample") or []), task)
    out = {k: v for k, v in metrics.items() if k not in ("per_sample", "predictions")}
    return {**out, "task": task, **source, "per_sample": per_sample,
            "misclassified": sum(1 for r in per_sample if r["correct"] is False)}


def run_test_results(project: Project, run_id: str | None = None) -> dict[str, Any]:
    """The latest test results of run ``run_id`` (default: the latest finished run, ``run`` None when there is
    none yet); see the module docstring. An unknown ``run_id`` is a NotFoundError."""
    with project.read_session() as s:
        try:
            row = get_run(s, run_id)
        except NotFoundError:
            if run_id is not None:
                raise
            return {"run": None, "learning_type": None, "created_at": None, "status": None, "variants": {},
                    "int8_accuracy_drop": None}
        jobs = list(s.execute(select(JobRow).where(JobRow.kind == "test", JobRow.status == "succeeded")
                              .order_by(JobRow.finished_at.desc(), JobRow.id.desc()).limit(RECENT_JOBS)).scalars())
        metrics: dict[str, Any] = dict(row.metrics or {})
        run: dict[str, Any] = {"id": row.id, "learning_type": row.learning_type, "created_at": _iso(row.created_at),
                               "status": row.status}
        found = [(j.id, _iso(j.finished_at), j.member, dict(j.result or {})) for j in jobs
                 if (j.result or {}).get("run") == row.id]
    variants: dict[str, dict[str, Any]] = {}
    for job_id, at, member, result in found:  # newest first: the first job of a variant wins
        variant = str(result.get("variant"))
        if variant not in variants and isinstance(result.get("per_sample"), list):
            variants[variant] = _variant(result, {"source": "test job", "job": job_id, "at": at, "by": member})
    for variant, tested in (metrics.get("test") or {}).items():
        if variant not in variants and isinstance(tested, dict) and "per_sample" in tested:
            variants[variant] = _variant(tested, {"source": "training", "job": None, "at": run["created_at"],
                                                   "by": None})
    order = [v for v in ("float32", "int8", "model") if v in variants] + sorted(
        v for v in variants if v not in ("float32", "int8", "model"))
    return {"run": run["id"], "learning_type": run["learning_type"], "created_at": run["created_at"],
            "status": run["status"], "variants": {v: variants[v] for v in order},
            "int8_accuracy_drop": metrics.get("int8_accuracy_drop")}
