"""Use cases of the model registry: register a run's output as a model version, move aliases, resolve
``models:/name@alias`` / ``models:/name/3`` URIs and trace lineage back to data.

Aliases (``production``, ``staging``...) are pointers; every move is kept in ``alias_events`` with who,
when and from which version to which, and audited as ``model.alias`` in the same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import DatasetVersionItemRow, DatasetVersionRow
from crisp_eml.store.tables.learn import AliasEventRow, ModelAliasRow, ModelVersionRow, RunRow
from crisp_eml.workspace.model_resolution import (  # noqa: F401 - resolve_model, parse_uri: public here too
    ModelVersionInfo,
    model_info,
    parse_uri,
    resolve_in_session,
    resolve_model,
    version_row,
)
from crisp_eml.workspace.promotion import check_promotion
from crisp_eml.workspace.runs_common import get_run

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")



def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InputError("model names use letters, digits, '.', '_' or '-' (max 128)", field="name")
    return name


def register_in_session(project: Project, s: Session, run: RunRow, name: str, description: str | None,
                        actor: Any) -> ModelVersionInfo:
    last = s.execute(select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)).scalar()
    mv = ModelVersionRow(name=name, version=int(last or 0) + 1, run_id=run.id, description=description)
    s.add(mv)
    s.flush()
    project.record(s, "model.register", {"model": f"models:/{name}/{mv.version}", "run": run.id,
                                         **(run.artifacts or {})}, actor=actor)
    return model_info(s, mv)


def register_model(project: Project, run_id: str | None, name: str, description: str | None = None) -> ModelVersionInfo:
    """Register run ``run_id`` (default: the latest run) as the next version of model ``name``."""
    actor = project.require(Permission.TRAIN)
    _check_name(name)
    with project.session() as s:
        run = get_run(s, run_id)
        if run.status not in ("finished", "imported"):
            raise InputError(f"run {run.id} is {run.status}; only finished runs can be registered", field="run")
        return register_in_session(project, s, run, name, description, actor)


def set_alias(project: Project, name: str, alias: str, version: int, note: str | None = None,
              override_reason: str | None = None) -> dict[str, Any]:
    """Point ``alias`` of model ``name`` at ``version``; the move is kept in the alias history and audited.

    ``production`` needs a passing gate for that version, or an audited ``override_reason`` (see promotion).
    """
    actor = project.require(Permission.MOVE_ALIAS)
    if not ALIAS_RE.match(alias):
        raise InputError("aliases start with a letter and use letters, digits, '_' or '-'", field="alias")
    with project.session() as s:
        version_row(s, name, int(version))
        check_promotion(project, s, name, int(version), alias, override_reason)
        row = s.get(ModelAliasRow, (name, alias))
        before = row.version if row is not None else None
        if row is None:
            s.add(ModelAliasRow(name=name, alias=alias, version=int(version)))
        else:
            row.version = int(version)
        s.add(AliasEventRow(name=name, alias=alias, from_version=before, to_version=int(version), actor=actor.name,
                            note=note))
        s.flush()
        record = {"model": f"models:/{name}@{alias}", "from": before, "to": int(version)}
        project.record(s, "model.alias", record, note=note, actor=actor)
        return {"name": name, "alias": alias, "from_version": before, "to_version": int(version),
                "actor": actor.name, "note": note}


def alias_history(project: Project, name: str, alias: str | None = None) -> list[dict[str, Any]]:
    with project.session() as s:
        q = select(AliasEventRow).where(AliasEventRow.name == name)
        if alias:
            q = q.where(AliasEventRow.alias == alias)
        rows = list(s.execute(q.order_by(AliasEventRow.id)).scalars())
        if not rows and s.execute(select(ModelVersionRow).where(ModelVersionRow.name == name).limit(1)).first() is None:
            raise NotFoundError(f"no model named '{name}'")
        return [{"name": r.name, "alias": r.alias, "from_version": r.from_version, "to_version": r.to_version,
                 "actor": r.actor, "at": r.at.isoformat() if r.at else None, "note": r.note} for r in rows]


def list_models(project: Project, name: str | None = None) -> list[dict[str, Any]]:
    with project.session() as s:
        q = select(ModelVersionRow).order_by(ModelVersionRow.name, ModelVersionRow.version)
        if name:
            q = q.where(ModelVersionRow.name == name)
        out = []
        for mv in s.execute(q).scalars():
            info = model_info(s, mv)
            run = s.get(RunRow, mv.run_id)
            test = ((run.metrics or {}).get("test") or {}) if run else {}
            d = info.to_dict()
            d["accuracy_int8"] = (test.get("int8") or {}).get("accuracy")
            out.append(d)
        if name and not out:
            raise NotFoundError(f"no model named '{name}'")
        return out


def lineage(project: Project, uri: str) -> dict[str, Any]:
    """Model version -> run -> dataset version + impulse -> samples (id, name, hash, label, category)."""
    with project.session() as s:
        info = resolve_in_session(s, uri)
        run = s.get(RunRow, info.run_id)
        out: dict[str, Any] = {"model": info.to_dict(), "run": None, "dataset_version": None, "impulse": None,
                               "samples": []}
        if run is None:
            return out
        out["run"] = {"id": run.id, "learning_type": run.learning_type, "seed": run.seed, "author": run.author,
                      "created_at": run.created_at.isoformat() if run.created_at else None}
        out["impulse"] = {"hash": run.impulse_hash, "spec": run.impulse_spec}
        if run.dataset_version_id is not None:
            dv = s.get(DatasetVersionRow, run.dataset_version_id)
            if dv is not None:
                out["dataset_version"] = {"id": dv.id, "digest": dv.digest, "message": dv.message,
                                          "layer": dv.layer, "author": dv.author}
            items = s.execute(select(DatasetVersionItemRow).where(DatasetVersionItemRow.version_id ==
                                                                  run.dataset_version_id)
                              .order_by(DatasetVersionItemRow.name)).scalars()
            out["samples"] = [{"id": i.sample_id, "name": i.name, "hash": i.hash, "label": i.label,
                               "category": i.category} for i in items]
        return out
