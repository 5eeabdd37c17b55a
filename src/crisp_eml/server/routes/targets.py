"""Target devices over HTTP: the catalog (as ``eml targets``) and how the current model fares on each target.

The comparison reads saved ``eml profile`` results only; profiling a model on a target is long work and is the
``profile`` job's (``POST /profile``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["targets"])


@router.get("/targets")
def targets(project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """The device catalog: id, name, core, clock, RAM, flash, FPU/DSP, CPI factor (as ``eml targets --json``)."""
    from crisp_eml.targets.catalog import TARGETS

    return [t.to_dict() for t in TARGETS.values()]


@router.get("/targets/compare")
def compare(model: str | None = Query(None, min_length=1, max_length=300, description=(
        "models:/NAME@ALIAS or models:/NAME/VERSION (default: the production alias, else the newest version).")),
        project: Project = Depends(member_project)) -> dict[str, Any]:
    """Per catalog target: its capacity and the latest saved profile of ``model`` on it (RAM, flash, latency,
    fits), or ``profile: null`` when the model was never profiled there; with the requirements' limits."""
    from crisp_eml.workspace.target_compare import compare_targets

    return compare_targets(project, model)
