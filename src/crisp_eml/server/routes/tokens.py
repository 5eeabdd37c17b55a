"""Member API tokens over HTTP: list (never the secrets), create (the secret is shown once), revoke.

Your own tokens need no permission; anyone else's, or everyone's, need manage-members (checked by the use cases
in :mod:`crisp_eml.workspace.credentials`, as for ``eml token``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["tokens"])

TokenId = Annotated[str, Path(min_length=1, max_length=256, description="Token id (or the whole token).")]
Scope = Annotated[str, Field(min_length=1, max_length=64)]


class TokenBody(BaseModel):
    """A new API token (as ``eml token create``): for ``member`` (default: yourself), limited to ``scopes``
    (default: everything the member's persona grants), expiring after ``expires_days`` (default: never)."""

    model_config = ConfigDict(extra="forbid")
    member: str | None = Field(default=None, min_length=1, max_length=128)
    scopes: list[Scope] | None = Field(default=None, max_length=20)
    expires_days: float | None = Field(default=None, gt=0, le=3650)
    note: str = Field(default="", max_length=500)


@router.get("/tokens")
def tokens(member: str | None = Query(None, min_length=1, max_length=128, description=(
               "This member's tokens (someone else's need manage-members).")),
           all: bool = Query(False, description="Every member's tokens (manage-members)."),  # noqa: A002
           project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """API tokens, oldest first, without their secrets: yours by default."""
    from crisp_eml.workspace.credentials import list_tokens

    return list_tokens(project, member, all_members=all)


@router.post("/tokens", status_code=201)
def create_token(body: TokenBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Make an API token; ``token`` in the answer is the secret, shown this once and never again."""
    from crisp_eml.workspace.credentials import create_token as uc

    return uc(project, body.member or project.actor.name, scopes=body.scopes, expires_days=body.expires_days,
              note=body.note)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: TokenId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Revoke a token at once (your own, or anyone's with manage-members); revoking twice is harmless."""
    from crisp_eml.workspace.credentials import revoke_token as uc

    return uc(project, token_id)
