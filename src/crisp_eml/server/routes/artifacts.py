"""Stored results of the long lifecycle steps: compiles, verifications, profiles, deployed bundles (download) and
reports. Those steps run as background jobs; these routes read what they stored. Deploying (signing a bundle of a
gated, already checked model) is short and is the one write here."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["artifacts"])

ResultId = Annotated[int, Path(ge=1, le=2**62, description="Result id (its audit entry number).")]
Model = Annotated[str | None, Query(max_length=300, description="Only results of this model (URI as given).")]
Offset = Annotated[int, Query(ge=0, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=1000)]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DeployBody(BaseModel):
    """Build a signed bundle of a gated model version for one target (as ``eml deploy``)."""

    model: str = Field(min_length=1, max_length=300, description="models:/NAME@ALIAS or models:/NAME/VERSION")
    target: str = Field(min_length=1, max_length=128, description="Catalog target id, e.g. cortex-m4f-80mhz.")


def _page(project: Project, kind: str, model: str | None, offset: int, limit: int) -> dict[str, Any]:
    from crisp_eml.workspace.results import list_results

    return list_results(project, kind, model=model, offset=offset, limit=limit)


def _one(project: Project, kind: str, result_id: int) -> dict[str, Any]:
    from crisp_eml.workspace.results import get_result

    return get_result(project, kind, result_id)


@router.get("/compiles")
def compiles(model: Model = None, offset: Offset = 0, limit: Limit = 100,
             project: Project = Depends(member_project)) -> dict[str, Any]:
    """Compiled C libraries, newest first: model, sha256, library name and folder, sources digest, arena."""
    return _page(project, "compile", model, offset, limit)


@router.get("/compiles/{result_id}")
def compile_result(result_id: ResultId, project: Project = Depends(member_project)) -> dict[str, Any]:
    return _one(project, "compile", result_id)


@router.get("/verifications")
def verifications(offset: Offset = 0, limit: Limit = 100,
                  project: Project = Depends(member_project)) -> dict[str, Any]:
    """Byte-for-byte checks of libraries against TFLite Micro, newest first: library, ok, each check."""
    return _page(project, "verify", None, offset, limit)


@router.get("/verifications/{result_id}")
def verification(result_id: ResultId, project: Project = Depends(member_project)) -> dict[str, Any]:
    return _one(project, "verify", result_id)


@router.get("/profiles")
def profiles(model: Model = None, offset: Offset = 0, limit: Limit = 100,
             project: Project = Depends(member_project)) -> dict[str, Any]:
    """RAM, flash and latency measured on targets (gate evidence), newest first."""
    return _page(project, "profile", model, offset, limit)


@router.get("/profiles/{result_id}")
def profile_result(result_id: ResultId, project: Project = Depends(member_project)) -> dict[str, Any]:
    return _one(project, "profile", result_id)


@router.get("/bundles")
def bundles(model: Model = None, offset: Offset = 0, limit: Limit = 100,
            project: Project = Depends(member_project)) -> dict[str, Any]:
    """Signed bundles deployed, newest first: model, target, gate, file, sha256, signing key."""
    return _page(project, "bundle", model, offset, limit)


@router.post("/bundles", status_code=201)
def deploy(body: DeployBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Build and sign the bundle (deploy; the model's latest gate for the target must have passed). The server
    stores it in the project; ``id`` is what ``GET /bundles/{id}/download`` takes."""
    from crisp_eml.workspace.deploy_served import deploy_in_project

    r = deploy_in_project(project, body.model, body.target)
    return {"id": r.audit_seq, **r.to_dict()}


@router.get("/bundles/{result_id}")
def bundle(result_id: ResultId, project: Project = Depends(member_project)) -> dict[str, Any]:
    return _one(project, "bundle", result_id)


@router.get("/bundles/{result_id}/download", response_class=Response,
            responses={200: {"content": {"application/zip": {}}, "description": "The bundle .zip"}})
def bundle_download(result_id: ResultId, project: Project = Depends(member_project)) -> Response:
    """The bundle file, exactly as deployed (404 when gone, 409 when it changed since: its sha256 is checked)."""
    from crisp_eml.workspace.results import bundle_bytes

    name, data = bundle_bytes(project, result_id)
    safe = _SAFE.sub("_", name).strip("._") or f"bundle-{result_id}.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


@router.get("/reports")
def reports(model: Model = None, offset: Offset = 0, limit: Limit = 100,
            project: Project = Depends(member_project)) -> dict[str, Any]:
    """Project reports / model cards written, newest first: model, gate verdict, where the files are."""
    return _page(project, "report", model, offset, limit)


@router.get("/reports/{result_id}")
def report(result_id: ResultId, project: Project = Depends(member_project)) -> dict[str, Any]:
    return _one(project, "report", result_id)
