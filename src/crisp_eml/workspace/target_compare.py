"""Use case: compare the catalog's target devices for one model version (Business Understanding / Evaluation).

For each target of the catalog: its capacity (RAM, flash, clock) next to the latest saved ``eml profile`` of the
model on it (RAM, flash, latency, whether it fits), or ``None`` when the model was never profiled there. A profile
counts for a model version when it measured the same int8 model (its ``model_sha256``), so a profile made through
an alias (``models:/m@production``) counts for the version the alias pointed at. Reads only: profiling is the
``profile`` job's work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.lifecycle.evidence import ModelRef, resolve, saved_profiles
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import ModelAliasRow, ModelVersionRow
from crisp_eml.targets.catalog import TARGETS
from crisp_eml.workspace.requirements import current as current_requirements

CURRENT_ALIAS = "production"
PROFILE_FIELDS = ("ram_bytes", "flash_bytes", "latency_ms", "latency_method", "arena_bytes", "tflm_arena_bytes",
                  "static_ram_bytes", "stack_bytes_max", "instructions_per_inference")
LIMITS = ("max_ram_bytes", "max_flash_bytes", "max_latency_ms")


def current_model(session: Session) -> ModelRef | None:
    """The model the business looks at: the ``production`` alias (of the first model name that has one), else the
    newest registered version; None when no model is registered."""
    alias = session.execute(select(ModelAliasRow).where(ModelAliasRow.alias == CURRENT_ALIAS)
                            .order_by(ModelAliasRow.name).limit(1)).scalar_one_or_none()
    if alias is not None:
        return resolve(session, f"models:/{alias.name}/{alias.version}")
    newest = session.execute(select(ModelVersionRow).order_by(ModelVersionRow.created_at.desc(),
                                                              ModelVersionRow.version.desc()).limit(1)
                             ).scalar_one_or_none()
    return None if newest is None else ModelRef(newest.name, newest.version, newest.run_id)


def _latest_profiles(session: Session, ref: ModelRef) -> dict[str, dict[str, Any]]:
    """target id -> the newest saved profile of this model version on it."""
    out: dict[str, dict[str, Any]] = {}
    for row in saved_profiles(session, ref):
        arts = row.artifacts or {}
        target = arts.get("target")
        if isinstance(target, str) and target not in out:
            out[target] = {"id": row.seq, "at": row.at, "actor": row.actor, **{k: arts.get(k) for k in PROFILE_FIELDS}}
    return out


def _fits(figure: Any, capacity: int) -> bool | None:
    if not isinstance(figure, int | float) or isinstance(figure, bool) or capacity <= 0:
        return None
    return figure <= capacity


def compare_targets(project: Project, model: str | None = None) -> dict[str, Any]:
    """Every catalog target with the latest profile of ``model`` on it (default: :func:`current_model`).

    ``model`` is None in the answer when nothing is registered yet; ``limits`` are the current requirements'
    RAM/flash/latency thresholds (absent ones are left out), so a chart can draw them."""
    with project.read_session() as s:
        ref = resolve(s, model) if model else current_model(s)
        reqs = current_requirements(s)
        profiles = _latest_profiles(s, ref) if ref is not None else {}
        aliases = [] if ref is None else list(s.execute(
            select(ModelAliasRow.alias).where(ModelAliasRow.name == ref.name, ModelAliasRow.version == ref.version)
            .order_by(ModelAliasRow.alias)).scalars())
    targets = []
    for t in TARGETS.values():
        prof = profiles.get(t.id)
        if prof is not None:
            prof["fits"] = {"ram": _fits(prof.get("ram_bytes"), t.ram_bytes),
                            "flash": _fits(prof.get("flash_bytes"), t.flash_bytes)}
        targets.append({"target": t.to_dict(), "profile": prof})
    return {"model": None if ref is None else ref.uri, "aliases": aliases,
            "requirements_version": reqs.version, "requirements_target": reqs.target,
            "limits": {k: reqs.kpis[k] for k in LIMITS if k in reqs.kpis}, "targets": targets}
