"""Training runs and the model registry: list/show runs, register a run as a model version, resolve versions
and aliases, move an alias (its history kept), trace lineage. Training and testing are background jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["models"])

Name = Annotated[str, Path(min_length=1, max_length=128, description="Model name.")]
Alias = Annotated[str, Path(min_length=1, max_length=64, description="Alias, e.g. production or staging.")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="Model version.")]
RunId = Annotated[str, Path(min_length=1, max_length=64, description="Run id or unique prefix.")]
#: a stored report is HTML the project generated: shown in a sandbox (no access to the API's origin)
SANDBOX = {"Content-Security-Policy": "sandbox allow-scripts"}


class RegisterBody(BaseModel):
    """Register a run's output as the next version of ``name`` (as ``eml models register``)."""

    name: str = Field(min_length=1, max_length=128)
    run: str | None = Field(default=None, max_length=64, description="Run id or prefix (default: the latest run).")
    description: str | None = Field(default=None, max_length=2000)


class AliasBody(BaseModel):
    """Point the alias at ``version`` (as ``eml models alias set``)."""

    version: int = Field(ge=1, le=2**31 - 1)
    note: str | None = Field(default=None, max_length=2000)
    override_reason: str | None = Field(default=None, max_length=2000, description=(
        "Promote to production without a passing gate (audited; needs approve-gate and move-alias)."))


# -- runs -------------------------------------------------------------------------------------------------------
@router.get("/runs")
def runs(limit: int | None = Query(None, ge=0, le=10_000),
         project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Training runs, newest first (as ``eml runs ls --json``)."""
    from crisp_eml.workspace.runs import list_runs

    return list_runs(project, limit=limit)


@router.get("/runs/compare")
def runs_compare(run: list[str] = Query(..., min_length=2, max_length=20, description="Run ids (repeat: ?run=a&run=b)"),
                 project: Project = Depends(member_project)) -> dict[str, Any]:
    """Parameters and metrics of runs side by side; ``differs`` names the rows that differ."""
    from crisp_eml.workspace.runs import compare_runs

    return compare_runs(project, run)


@router.get("/runs/{run_id}")
def run(run_id: RunId,
        project: Project = Depends(member_project)) -> dict[str, Any]:
    """Parameters, metrics and artifacts of one run (id or unique prefix; as ``eml runs show --json``)."""
    from crisp_eml.workspace.runs import show_run

    return show_run(project, run_id)


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def run_report(run_id: RunId,
               project: Project = Depends(member_project)) -> HTMLResponse:
    """The run's stored, self-contained HTML training report."""
    from crisp_eml.workspace.runs import run_report as uc

    return HTMLResponse(uc(project, run_id), headers=SANDBOX)


# -- models ----------------------------------------------------------------------------------------------------
@router.get("/models")
def models(project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Every model version with its aliases (as ``eml models ls --json``)."""
    from crisp_eml.workspace.registry import list_models

    return list_models(project)


@router.post("/models", status_code=201)
def register(body: RegisterBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Register a finished run as the next version of a model (train)."""
    from crisp_eml.workspace.registry import register_model

    return register_model(project, body.run, body.name, body.description).to_dict()


@router.get("/models/{name}")
def model(name: Name, project: Project = Depends(member_project)) -> dict[str, Any]:
    """A model's versions (oldest first), its current aliases and its latest version."""
    from crisp_eml.workspace.registry import list_models

    versions = list_models(project, name)
    aliases = {a: v["version"] for v in versions for a in v["aliases"]}
    return {"name": name, "latest": versions[-1]["version"], "aliases": aliases, "versions": versions}


@router.get("/models/{name}/versions/{version}")
def model_version(name: Name, version: Version,
                  project: Project = Depends(member_project)) -> dict[str, Any]:
    """One model version: run, artifacts (blob sha256), aliases (as ``eml models show --json``)."""
    from crisp_eml.workspace.model_resolution import resolve_model

    return resolve_model(project, f"models:/{name}/{version}").to_dict()


@router.get("/models/{name}/versions/{version}/lineage")
def model_lineage(name: Name, version: Version,
                  project: Project = Depends(member_project)) -> dict[str, Any]:
    """Model version -> run -> dataset version + impulse -> samples."""
    from crisp_eml.workspace.registry import lineage

    return lineage(project, f"models:/{name}/{version}")


@router.get("/models/{name}/aliases")
def alias_history(name: Name, alias: str | None = Query(None, max_length=64),
                  project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Every move of the model's aliases (or of one): who, when, from which version to which."""
    from crisp_eml.workspace.registry import alias_history as uc

    return uc(project, name, alias)


@router.get("/models/{name}/aliases/{alias}")
def resolve_alias(name: Name, alias: Alias, project: Project = Depends(member_project)) -> dict[str, Any]:
    """The version ``models:/NAME@ALIAS`` points at."""
    from crisp_eml.workspace.model_resolution import resolve_model

    return resolve_model(project, f"models:/{name}@{alias}").to_dict()


@router.put("/models/{name}/aliases/{alias}")
def move_alias(body: AliasBody, name: Name, alias: Alias,
               project: Project = Depends(member_project)) -> dict[str, Any]:
    """Point the alias at a version (move-alias; production needs a passing gate or an audited override)."""
    from crisp_eml.workspace.registry import set_alias

    return set_alias(project, name, alias, body.version, note=body.note, override_reason=body.override_reason)
