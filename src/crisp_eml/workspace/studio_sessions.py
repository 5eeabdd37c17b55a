"""Use cases for signing in to the Studio: single-use login links and the browser sessions they become.

``eml serve`` prints a login link for the member who started it (as Jupyter does) and ``eml members
login-url NAME`` makes one for another member: ``/login?token=eml_l_<id>_<secret>``, valid for ten minutes
and for one exchange. The exchange (or signing in with a member API token) starts a session whose secret
``eml_s_<id>_<secret>`` lives only in an HttpOnly cookie. Like API tokens, only a salt and
``sha256(salt + secret)`` are stored, so neither a stolen database nor a timing reveals a usable secret.

A session acts as its member with that member's persona (narrowed by the scopes of the API token it was
started with, if any), so the Studio goes through the same permission checks and audit trail as the API.
State-changing requests also carry a CSRF token, :func:`csrf_token` of the session secret, which a page can
read from a non-HttpOnly cookie and another site cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.personas import Permission
from crisp_eml.store.db import READ_ONLY
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import MemberRow
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.server import StudioSessionRow
from crisp_eml.workspace.credentials import Credential, secret_digest, split_secret

LOGIN_PREFIX = "eml_l_"
SESSION_PREFIX = "eml_s_"
LOGIN_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
MAX_LOGIN_TTL_S = 24 * 3600


@dataclass(frozen=True)
class StudioSession:
    """A started session: the cookie's secret, its CSRF token, its member and when it ends."""

    secret: str
    csrf: str
    member: str
    expires_at: datetime


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a session: derived from its secret, so it needs no storage and no other site knows it."""
    return hmac.new(session_secret.encode(), b"crisp-eml studio csrf", hashlib.sha256).hexdigest()


def _new_row(kind: str, member: str, scopes: list[str], created_by: str, ttl: timedelta,
             prefix: str) -> tuple[StudioSessionRow, str]:
    cid, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
    row = StudioSessionRow(id=cid, kind=kind, member=member, salt=salt, digest=secret_digest(salt, secret),
                           scopes=scopes, created_by=created_by, expires_at=utcnow() + ttl)
    return row, f"{prefix}{cid}_{secret}"


def create_login_link(project: Project, member: str, *, ttl_s: float | None = None) -> dict[str, Any]:
    """A single-use login secret for ``member`` (your own, or anyone's with manage-members); ``token`` is the
    only time it is shown. It expires after ``ttl_s`` seconds (ten minutes by default)."""
    actor = project.actor
    if member != actor.name:
        actor = project.require(Permission.MANAGE_MEMBERS)
    ttl = LOGIN_TTL if ttl_s is None else timedelta(seconds=ttl_s)
    if not 0 < ttl.total_seconds() <= MAX_LOGIN_TTL_S:
        raise InputError(f"must be between 0 and {MAX_LOGIN_TTL_S} seconds, got {ttl.total_seconds():g}",
                         field="ttl")
    with project.session() as s:
        if s.get(MemberRow, member) is None:
            raise NotFoundError(f"'{member}' is not a member of project '{project.name}'")
        row, secret = _new_row("login", member, [], actor.name, ttl, LOGIN_PREFIX)
        s.add(row)
        project.record(s, "login_link.create", {"login_id": row.id, "member": member,
                                                "expires_at": row.expires_at.isoformat(timespec="seconds")},
                       actor=actor)
        return {"member": member, "login_id": row.id, "token": secret,
                "expires_at": row.expires_at.isoformat(timespec="seconds")}


def _start(project: Project, s: Any, member: str, scopes: list[str], via: dict[str, Any]) -> StudioSession:
    row, secret = _new_row("session", member, scopes, member, SESSION_TTL, SESSION_PREFIX)
    s.add(row)
    acting = project.acting_as(member, token_id=via.get("token_id"))
    project.record(s, "session.start", {"session_id": row.id, "member": member, **via}, actor=acting.actor)
    return StudioSession(secret, csrf_token(secret), member, row.expires_at)


def exchange_login(project: Project, secret: str) -> StudioSession | None:
    """Start a session for a login secret, which is used up; None when it is unknown, used, expired, or its
    member has left (one write transaction, so two exchanges of one link cannot both succeed)."""
    parts = split_secret(secret, LOGIN_PREFIX)
    if parts is None:
        return None
    with project.session() as s:
        row = s.execute(select(StudioSessionRow).where(StudioSessionRow.id == parts[0])
                        .with_for_update()).scalar_one_or_none()
        if (row is None or row.kind != "login" or not hmac.compare_digest(row.digest, secret_digest(row.salt, parts[1]))
                or row.ended_at is not None or row.expires_at <= utcnow() or s.get(MemberRow, row.member) is None):
            return None
        row.ended_at = utcnow()
        return _start(project, s, row.member, [], {"via": "login-link", "login_id": row.id})


def start_with_token(project: Project, cred: Credential) -> StudioSession:
    """Start a session for a member who signed in with an API token (the session keeps the token's scopes)."""
    if cred.kind != "token":
        raise InputError("sign in with a member API token, not an ingestion key", field="token")
    with project.session() as s:
        return _start(project, s, cred.member, sorted(cred.scopes or []),
                      {"via": "api-token", "token_id": cred.credential_id})


def authenticate_session(project: Project, secret: str) -> Credential | None:
    """The credential of a live session secret (one indexed read, writes nothing); None when unknown, signed
    out, expired, or its member has left."""
    parts = split_secret(secret, SESSION_PREFIX)
    if parts is None:
        return None
    t = StudioSessionRow.__table__
    reader = project.engine.execution_options(**{READ_ONLY: True})
    with reader.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.kind, t.c.salt, t.c.digest, t.c.scopes, t.c.expires_at, t.c.ended_at,
                                  t.c.member).join_from(t, MemberRow.__table__, MemberRow.name == t.c.member)
                           .where(t.c.id == parts[0])).first()
    if row is None or row.kind != "session" or not hmac.compare_digest(row.digest, secret_digest(row.salt, parts[1])):
        return None
    if row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return Credential(row.member, row.id, frozenset(row.scopes) if row.scopes else None, "session")


def end_session(project: Project, secret: str) -> bool:
    """Sign a session out (audited); False when the secret is not a live session."""
    cred = authenticate_session(project, secret)
    if cred is None:
        return False
    with project.session() as s:
        row = s.get(StudioSessionRow, cred.credential_id)
        if row is None or row.ended_at is not None:
            return False
        row.ended_at = utcnow()
        acting = project.acting_as(cred.member, token_id=cred.credential_id)
        project.record(s, "session.end", {"session_id": row.id, "member": row.member}, actor=acting.actor)
    return True
