"""Project-level routes: who am I, the project's status board."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["project"])


@router.get("/whoami")
def whoami(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The member the request's token belongs to, with their persona and permissions."""
    from crisp_eml.workspace.members import whoami as uc

    return {**uc(project).to_dict(), "token_id": project.actor.token_id}


@router.get("/project")
def project_status(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The project's name, id and CRISP-EML status board (as ``eml status --json``)."""
    from crisp_eml.workspace.status import status

    return {"name": project.name, "id": project.project_id, "status": status(project).to_dict()}
