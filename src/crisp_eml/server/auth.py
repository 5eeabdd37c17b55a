"""Who is asking: member API tokens and ingestion keys, checked on every request (deny by default).

A route gets its project through one of two dependencies: :func:`member_project` (a member token, as
``Authorization: Bearer eml_t_...``) or :func:`ingest_project` (the Edge Impulse style ``x-api-key`` header,
holding an ingestion key or a member token). A browser signed in to the Studio sends neither: its session
secret comes in the HttpOnly cookie ``eml_session``, and every request that changes state must also carry the
session's CSRF token in the ``X-CSRF-Token`` header (403 otherwise). Either way the dependency returns the
project acting as that member, so every permission check and audit entry of the use case is the member's,
with the token (or session) id. Failed authentications are counted per client address and answered with 429
once too many come too fast.

The dependencies are coroutines: the check is one indexed read that never waits for a writer (SQLite in WAL
mode), so it runs on the event loop and a request pays no thread hop for it. Writing a token's last use,
which takes the write lock, runs in the thread pool, and at most once a minute per token.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from crisp_eml.server.context import ServerContext
from crisp_eml.server.errors import ApiError
from crisp_eml.workspace.credentials import DEVICE_PREFIX, Credential, authenticate, record_use, use_to_record
from crisp_eml.workspace.studio_sessions import authenticate_session, csrf_token

SESSION_COOKIE = "eml_session"
CSRF_COOKIE = "eml_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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


async def _check(request: Request, secret: str | None, *, kinds: tuple[str, ...], what: str) -> Credential:
    ctx = context(request)
    client = _client(request)
    wait = ctx.failed_logins.blocked(client)
    if wait:
        raise ApiError(429, f"too many failed authentications from {client}; try again in {wait:.0f} s",
                       headers={"Retry-After": str(max(1, round(wait)))})
    cookie = None if secret else request.cookies.get(SESSION_COOKIE)
    if not secret and not cookie:
        raise ApiError(401, f"authentication required: {what}", headers={"WWW-Authenticate": "Bearer"})
    if cookie:
        cred = _session(request, cookie)
    else:
        assert secret is not None
        cred = authenticate(ctx.project, secret)
    if cred is None or cred.kind not in (*kinds, "session"):
        ctx.failed_logins.fail(client)
        raise ApiError(401, "invalid, revoked or expired credentials", headers={"WWW-Authenticate": "Bearer"})
    if use_to_record(ctx.project, cred):  # once a minute per token: a short write, off the event loop
        await run_in_threadpool(record_use, ctx.project, cred.credential_id)
    request.state.credential = cred
    return cred


def _session(request: Request, cookie: str) -> Credential | None:
    """The Studio session of the cookie; a state-changing request without its CSRF token is refused (403)."""
    cred = authenticate_session(context(request).project, cookie)
    if cred is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, csrf_token(cookie)):
            raise ApiError(403, "missing or wrong CSRF token: send the eml_csrf cookie's value as X-CSRF-Token",
                           field=CSRF_HEADER)
    return cred


async def member_project(request: Request) -> Project:
    """The project acting as the member whose API token came with the request (401 without one)."""
    secret = _bearer(request) or request.headers.get("x-api-key")
    cred = await _check(request, secret, kinds=("token",),
                  what="send a member API token as 'Authorization: Bearer <token>' (eml members token create)")
    return cred.project(context(request).project)


async def device_project(request: Request) -> Project:
    """The project acting for the device whose key (``Authorization: Bearer eml_d_...`` or ``x-api-key``) came
    with the request: its registering member, scope ``ingest-data``. The device's id is
    ``request.state.credential.credential_id`` (:func:`device_id`). A member token or session is refused here:
    these routes speak for one device."""
    secret = _bearer(request) or request.headers.get("x-api-key")
    if not (secret and secret.startswith(DEVICE_PREFIX)):
        raise ApiError(401, "authentication required: send the device key as 'Authorization: Bearer <key>' "
                       "(eml devices add NAME)", headers={"WWW-Authenticate": "Bearer"})
    cred = await _check(request, secret, kinds=("device",),
                        what="send the device key as 'Authorization: Bearer <key>' (eml devices add NAME)")
    return cred.project(context(request).project)


def device_id(request: Request) -> str:
    """The id of the device a :func:`device_project` request authenticated as."""
    return str(request.state.credential.credential_id)


async def ingest_project(request: Request) -> Project:
    """The project acting for an ingestion key, device key or member token in ``x-api-key`` (or a bearer
    token)."""
    secret = request.headers.get("x-api-key") or _bearer(request)
    cred = await _check(request, secret, kinds=("token", "ingest-key", "device"),
                  what="send an ingestion key or member token in the 'x-api-key' header (eml ingest-key create)")
    return cred.project(context(request).project)
