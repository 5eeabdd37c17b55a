"""Project-level routes: who am I, the project's status board."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["project"])


@router.get("/whoami")
def whoami(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The member the request's token (or Studio session) belongs to, with their persona and the permissions it
    may use: the persona's, narrowed by the token's scopes."""
    from crisp_eml.workspace.members import whoami as uc

    me, scopes = uc(project), project.actor.scopes
    perms = [p for p in me.permissions if scopes is None or p in scopes]
    return {**me.to_dict(), "permissions": perms, "token_id": project.actor.token_id}


@router.get("/project")
def project_status(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The project's name, id and CRISP-EML status board (as ``eml status --json``)."""
    from crisp_eml.workspace.status import status

    return {"name": project.name, "id": project.project_id, "status": status(project).to_dict()}
