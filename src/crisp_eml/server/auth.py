"""Who is asking: member API tokens and ingestion keys, checked on every request (deny by default).

A route gets its project through one of two dependencies: :func:`member_project` (a member token, as
``Authorization: Bearer eml_t_...``) or :func:`ingest_project` (the Edge Impulse style ``x-api-key`` header,
holding an ingestion key or a member token). Either returns the project acting as that member, so every
permission check and audit entry of the use case is the member's, with the token id. Failed
authentications are counted per client address and answered with 429 once too many come too fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from crisp_eml.server.context import ServerContext
from crisp_eml.server.errors import ApiError
from crisp_eml.workspace.credentials import Credential, authenticate

if TYPE_CHECKING:
    from crisp_eml.store.project import Project


def context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check(request: Request, secret: str | None, *, kinds: tuple[str, ...], what: str) -> Credential:
    ctx = context(request)
    client = _client(request)
    wait = ctx.failed_logins.blocked(client)
    if wait:
        raise ApiError(429, f"too many failed authentications from {client}; try again in {wait:.0f} s",
                       headers={"Retry-After": str(max(1, round(wait)))})
    if not secret:
        raise ApiError(401, f"authentication required: {what}", headers={"WWW-Authenticate": "Bearer"})
    cred = authenticate(ctx.project, secret)
    if cred is None or cred.kind not in kinds:
        ctx.failed_logins.fail(client)
        raise ApiError(401, "invalid, revoked or expired credentials", headers={"WWW-Authenticate": "Bearer"})
    request.state.credential = cred
    return cred


def member_project(request: Request) -> Project:
    """The project acting as the member whose API token came with the request (401 without one)."""
    secret = _bearer(request) or request.headers.get("x-api-key")
    cred = _check(request, secret, kinds=("token",),
                  what="send a member API token as 'Authorization: Bearer <token>' (eml members token create)")
    return cred.project(context(request).project)


def ingest_project(request: Request) -> Project:
    """The project acting for an ingestion key or member token in ``x-api-key`` (or a bearer token)."""
    secret = request.headers.get("x-api-key") or _bearer(request)
    cred = _check(request, secret, kinds=("token", "ingest-key"),
                  what="send an ingestion key or member token in the 'x-api-key' header (eml ingest-key create)")
    return cred.project(context(request).project)
