"""Impulse routes: the current impulse (get, replace, edit), its history, a DSP preview of one sample and the
state of feature generation. Generating features is long work and runs as a background job, not here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["impulse"])


class ImpulseBody(BaseModel):
    """A whole impulse spec (as ``spec`` in ``GET /impulse``) stored as the new current version."""

    spec: dict[str, Any]
    message: str | None = Field(default=None, max_length=2000)


class ImpulseEdits(BaseModel):
    """``KEY=VALUE`` edits of the current impulse, as ``eml impulse set`` takes them."""

    assignments: list[str] = Field(min_length=1, max_length=100)
    message: str | None = Field(default=None, max_length=2000)


@router.get("/impulse")
def get_impulse(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The current impulse, its output shapes and DSP cost (as ``eml impulse show --json``)."""
    from crisp_eml.workspace.impulse import current_version

    return current_version(project).to_dict()


@router.put("/impulse")
def put_impulse(body: ImpulseBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Store a whole spec as the new current impulse version (design-impulse)."""
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.workspace.impulse import set_impulse

    spec = ImpulseSpec.from_dict(body.spec, source="spec")
    return set_impulse(project, spec, body.message).to_dict()


@router.patch("/impulse")
def patch_impulse(body: ImpulseEdits, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Edit fields of the current impulse, e.g. ``blocks.0.params.fft-length=32`` (design-impulse)."""
    from crisp_eml.workspace.impulse import set_impulse_values

    return set_impulse_values(project, body.assignments, body.message).to_dict()


@router.get("/impulse/history")
def impulse_history(project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Every version of the impulse, oldest first (as ``eml impulse history --json``)."""
    from crisp_eml.workspace.impulse import impulse_history as uc

    return [v.to_dict(details=False) | {"spec": v.spec.to_dict()} for v in uc(project)]


@router.get("/impulse/preview/{sample_ref:path}")
def preview(sample_ref: str, offset: int = Query(0, ge=0), limit: int = Query(8, ge=1, le=64),
            project: Project = Depends(member_project)) -> dict[str, Any]:
    """Features of windows ``offset``.. of one sample (id, name or CATEGORY/NAME) through the current impulse."""
    from crisp_eml.workspace.impulse_preview import preview_sample

    return preview_sample(project, sample_ref, offset=offset, limit=limit)


@router.get("/features")
def features_status(layer: str = Query("raw", max_length=16),
                    project: Project = Depends(member_project)) -> dict[str, Any]:
    """How many samples have features generated for the current impulse (generation itself is a job)."""
    from crisp_eml.workspace.features_status import feature_status

    return feature_status(project, layer=layer)
