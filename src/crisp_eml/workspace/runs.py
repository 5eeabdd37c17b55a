"""Use cases ``runs ls|show|compare|report``: read-only views of training runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError
from crisp_eml.store.outputs import make_dirs, remove_dirs
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import RunRow
from crisp_eml.workspace.runs_common import artifact_bytes, get_run, run_dict, run_summary

COMPARE_PARAMS = ("epochs", "learning_rate", "batch_size", "early_stopping_patience", "validation", "folds",
                  "layers", "augment", "clusters", "components")


def list_runs(project: Project, *, limit: int | None = None) -> list[dict[str, Any]]:
    if limit is not None and limit < 0:
        raise InputError(f"must be a positive number of runs (0: all), got {limit}", field="limit")
    with project.session() as s:
        q = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc())
        if limit:
            q = q.limit(limit)
        return [run_summary(r) for r in s.execute(q).scalars()]


def show_run(project: Project, run_id: str | None = None) -> dict[str, Any]:
    with project.session() as s:
        return run_dict(get_run(s, run_id))


def _flat(run: dict[str, Any]) -> dict[str, Any]:
    m = run.get("metrics") or {}
    test = m.get("test", {})
    out: dict[str, Any] = {"learning_type": run["learning_type"], "seed": run["seed"],
                           "dataset_version": run["dataset_version"], "impulse_hash": run["impulse_hash"]}
    for k in COMPARE_PARAMS:
        if k in (run.get("params") or {}):
            out[f"params.{k}"] = run["params"][k]
    for variant in ("float32", "int8", "model"):
        for key in ("accuracy", "balanced_accuracy", "f1", "mae", "rmse", "roc_auc"):
            v = (test.get(variant) or {}).get(key)
            if v is not None:
                out[f"{variant}.{key}"] = v
    for variant in ("float32", "int8"):
        sz = (m.get("model") or {}).get(variant) or {}
        if sz:
            out[f"{variant}.bytes"] = sz.get("bytes")
            out[f"{variant}.arena_bytes"] = sz.get("arena_bytes")
    out["epochs_run"] = m.get("epochs_run")
    return out


def compare_runs(project: Project, run_ids: list[str]) -> dict[str, Any]:
    """Side-by-side parameters and metrics; ``differs`` lists the rows whose values are not all equal."""
    if len(run_ids) < 2:
        raise InputError("give at least two run ids to compare", field="runs")
    with project.session() as s:
        runs = [run_dict(get_run(s, r)) for r in run_ids]
    flats = [_flat(r) for r in runs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    rows = {k: [f.get(k) for f in flats] for k in keys}
    differs = [k for k, vs in rows.items() if any(v != vs[0] for v in vs[1:])]
    return {"runs": [r["id"] for r in runs], "rows": rows, "differs": differs}


def run_report(project: Project, run_id: str | None = None) -> bytes:
    """The run's stored HTML report."""
    with project.session() as s:
        row = get_run(s, run_id)
        return artifact_bytes(project, row, "report.html")


def write_run_report(project: Project, out: Path, run_id: str | None = None) -> int:
    """Write the run's HTML report to ``out`` atomically; returns its size. A bad path is an InputError."""
    data = run_report(project, run_id)
    if out.is_dir():
        raise InputError("is a folder; give a file name such as report.html", source=str(out), field="output")
    created = make_dirs(out.parent, field="output")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        remove_dirs(created)
        raise InputError(f"cannot write the report: {exc.strerror or exc}", source=str(out), field="output") from exc
    return len(data)
