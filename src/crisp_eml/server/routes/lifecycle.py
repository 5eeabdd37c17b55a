"""The CRISP-EML backbone over HTTP: requirements, acceptance gates, members and the audit trail.

Evaluating a gate reads stored evidence (run metrics, the latest compile and profile entries), so it is a plain
request; profiling on the target for a gate is long work and belongs to the background jobs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["lifecycle"])

GateId = Annotated[int, Path(ge=1, le=2**62, description="Gate result id.")]
Member = Annotated[str, Path(min_length=1, max_length=128, description="Member name.")]
KpiName = Annotated[str, Field(min_length=1, max_length=128)]
KpiValue = StrictStr | StrictInt | StrictFloat | None  # strict: a JSON true is not the number 1


class RequirementsBody(BaseModel):
    """KPI changes applied on top of the current requirements, stored as a new version (as ``eml requirements
    set KEY=VALUE ...``): ``{"target": "cortex-m4f-80mhz", "min_accuracy": 0.9, "max_ram": "64k"}``; ``null``
    removes a KPI."""

    changes: dict[KpiName, KpiValue] = Field(min_length=1, max_length=100)
    message: str = Field(default="", max_length=2000)


class GateBody(BaseModel):
    """Evaluate a model version against every requirement (as ``eml gate MODEL [--target T]``)."""

    model: str = Field(min_length=1, max_length=300, description="models:/NAME@ALIAS or models:/NAME/VERSION")
    target: str | None = Field(default=None, max_length=128,
                               description="Target device (default: the requirements' target).")


class MemberBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    persona: str = Field(min_length=1, max_length=64, description=(
        "business-leader, domain-expert, end-user, data-scientist, ml-researcher, ml-platform-developer, "
        "embedded-developer or devops-mlops"))


def _assignment(key: str, value: KpiValue) -> str:
    if value is None:
        return f"{key}="
    return f"{key}={value!r}" if isinstance(value, float) else f"{key}={value}"


# -- requirements ----------------------------------------------------------------------------------------------
@router.get("/requirements")
def requirements(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The current requirements (as ``eml requirements show --json``; version 0 when none are set)."""
    from crisp_eml.workspace.requirements import show

    return show(project).to_dict()


@router.get("/requirements/history")
def requirements_history(project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Every version of the requirements, oldest first."""
    from crisp_eml.workspace.requirements import history

    return [r.to_dict() for r in history(project)]


@router.put("/requirements")
def set_requirements(body: RequirementsBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Change requirements: a new, audited version (set-requirements)."""
    from crisp_eml.workspace.requirements import set_requirements as uc

    return uc(project, [_assignment(k, v) for k, v in body.changes.items()], body.message).to_dict()


# -- gates -----------------------------------------------------------------------------------------------------
@router.get("/gates")
def gates(model: str | None = Query(None, max_length=300, description="Only gates of this model URI."),
          project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Stored gate results, oldest first."""
    from crisp_eml.workspace.gate import gate_history

    return [g.to_dict() for g in gate_history(project, model)]


@router.get("/gates/{gate_id}")
def gate(gate_id: GateId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """One stored gate result: every requirement row, the evidence it used, who ran it."""
    from crisp_eml.workspace.results import get_gate

    return get_gate(project, gate_id).to_dict()


@router.post("/gates", status_code=201)
def evaluate_gate(body: GateBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Evaluate a model version against the requirements and store the result (approve-gate). A failing gate is
    still a stored result: 201 with ``passed: false`` and the failed rows in ``failed``."""
    from crisp_eml.workspace.gate import run_gate

    return run_gate(project, body.model, body.target).to_dict()


# -- members ---------------------------------------------------------------------------------------------------
@router.get("/members")
def members(project: Project = Depends(member_project)) -> list[dict[str, object]]:
    """Members, their personas and what they may do (as ``eml members ls --json``)."""
    from crisp_eml.workspace.members import list_members

    return [m.to_dict() for m in list_members(project)]


@router.post("/members", status_code=201)
def add_member(body: MemberBody, project: Project = Depends(member_project)) -> dict[str, object]:
    """Add a member with a persona (manage-members)."""
    from crisp_eml.workspace.members import add_member as uc

    return uc(project, body.name, body.persona).to_dict()


@router.delete("/members/{name}")
def remove_member(name: Member, project: Project = Depends(member_project)) -> dict[str, str]:
    """Remove a member (manage-members; the last owner cannot be removed)."""
    from crisp_eml.workspace.members import remove_member as uc

    uc(project, name)
    return {"removed": name}


# -- audit -----------------------------------------------------------------------------------------------------
@router.get("/audit")
def audit(action: str | None = Query(None, max_length=64, description="Only this action (or prefix: 'gate')."),
          actor: str | None = Query(None, max_length=128, description="Only entries by this member."),
          offset: int = Query(0, ge=0, le=2**62), limit: int = Query(100, ge=1, le=1000),
          newest_first: bool = Query(False), project: Project = Depends(member_project)) -> dict[str, Any]:
    """One page of the hash-chained audit trail (``total`` counts every matching entry)."""
    from crisp_eml.workspace.audit_page import audit_page

    return audit_page(project, action=action, actor=actor, offset=offset, limit=limit, newest_first=newest_first)


@router.get("/audit/verify")
def audit_verify(key: str | None = Query(None, pattern=r"^[0-9a-fA-F]{64}$", description=(
        "Audit public key (64 hex digits) to check the signed checkpoints with; default: the key pinned in "
        "eml.toml.")), project: Project = Depends(member_project)) -> dict[str, Any]:
    """Check the hash chain and its signed checkpoints (as ``eml audit verify --json``): 200 with ``ok`` and the
    problems found; a broken trail is a finding, not a failed request."""
    from crisp_eml.workspace.audit import verify

    return verify(project, key=key).to_dict()
