"""Use cases for server credentials: member API tokens, project ingestion keys and the ingestion HMAC key.

A secret is shown once, when it is made (``eml_t_<id>_<secret>`` for a member token, ``eml_i_<id>_<secret>``
for an ingestion key, ``eml_d_<id>_<secret>`` for a device key); the database keeps its id, a random salt and
``sha256(salt + secret)``. Checking one
looks the row up by its id and compares digests in constant time, so neither a timing nor a stolen database
reveals a usable secret. A token acts as its member with that member's persona (narrowed by ``scopes``); an
ingestion key acts as the member who made it, with the single scope ``ingest-data``; so does a device key
(``workspace.devices``), whose credential id is the device's id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.personas import Permission
from crisp_eml.store.db import READ_ONLY
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import MemberRow
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.devices import DeviceRow
from crisp_eml.store.tables.server import ApiTokenRow, IngestKeyRow

if TYPE_CHECKING:
    from crisp_eml.data.formats.ei_acquisition import SignedOnly

TOKEN_PREFIX = "eml_t_"
KEY_PREFIX = "eml_i_"
DEVICE_PREFIX = "eml_d_"
HMAC_FILE = "ingest_hmac.key"
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class Credential:
    """Who a presented secret authenticates: a member, the token/key id, and the scopes it may use."""

    member: str
    credential_id: str
    scopes: frozenset[str] | None  # None: everything the member's persona grants
    kind: str  # "token", "ingest-key" or "device" (then credential_id is the device's id)

    def project(self, project: Project) -> Project:
        return project.acting_as(self.member, token_id=self.credential_id, scopes=self.scopes)


def secret_digest(salt: str, secret: str) -> str:
    """What is stored of a secret: ``sha256(salt + secret)`` (tokens, ingestion keys, Studio sessions)."""
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def new_secret() -> tuple[str, str, str, str]:
    """(id, secret, salt, digest) of a fresh credential."""
    cid, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
    return cid, secret, salt, secret_digest(salt, secret)


def iso(value: datetime | None) -> str | None:
    """A stored time as the API shows it (seconds, no zone: every stored time is UTC)."""
    return None if value is None else value.isoformat(timespec="seconds")


def _scopes(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        try:
            out.append(Permission(v.strip().lower()).value)
        except ValueError as exc:
            raise InputError(f"unknown scope {v!r}; one of {[p.value for p in Permission]}", field="scope") from exc
    return sorted(set(out))


def token_info(row: ApiTokenRow) -> dict[str, Any]:
    now = utcnow()
    state = ("revoked" if row.revoked_at is not None else
             "expired" if row.expires_at is not None and row.expires_at <= now else "active")
    return {"id": row.id, "member": row.member, "scopes": list(row.scopes or []), "note": row.note,
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "revoked_at": iso(row.revoked_at), "last_used_at": iso(row.last_used_at), "state": state}


def create_token(project: Project, member: str, *, scopes: list[str] | None = None, expires_days: float | None = None,
                 note: str = "") -> dict[str, Any]:
    """A new API token for ``member``: a member makes their own, managing members is needed for anyone else's.
    The returned ``token`` is the only time the secret is shown."""
    actor = project.actor
    if member != actor.name:
        actor = project.require(Permission.MANAGE_MEMBERS)
    if expires_days is not None and not 0 < expires_days <= MAX_EXPIRY_DAYS:
        raise InputError(f"must be between 0 and {MAX_EXPIRY_DAYS} days, got {expires_days}", field="expires")
    wanted = _scopes(scopes)
    cid, secret, salt, digest = new_secret()
    with project.session() as s:
        if s.get(MemberRow, member) is None:
            raise NotFoundError(f"'{member}' is not a member of project '{project.name}'")
        expires = utcnow() + timedelta(days=expires_days) if expires_days is not None else None
        row = ApiTokenRow(id=cid, member=member, salt=salt, digest=digest, scopes=wanted, note=note,
                          expires_at=expires)
        s.add(row)
        s.flush()
        project.record(s, "token.create", {"token_id": cid, "member": member, "scopes": wanted,
                                           "expires_at": iso(expires)}, actor=actor)
        return {**token_info(row), "token": f"{TOKEN_PREFIX}{cid}_{secret}"}


def list_tokens(project: Project, member: str | None = None, *, all_members: bool = False) -> list[dict[str, Any]]:
    """Tokens (never their secrets): your own by default; another member's, or everyone's (``all_members``),
    needs manage-members."""
    actor = project.actor
    wanted = None if all_members else (member or actor.name)
    if wanted != actor.name:
        project.require(Permission.MANAGE_MEMBERS)
    with project.read_session() as s:
        q = select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        if wanted is not None:
            q = q.where(ApiTokenRow.member == wanted)
        return [token_info(r) for r in s.execute(q).scalars()]


def revoke_token(project: Project, token_id: str) -> dict[str, Any]:
    """Revoke a token at once: your own, or anyone's for a member who manages members."""
    actor = project.actor
    with project.session() as s:
        row = s.get(ApiTokenRow, token_id.removeprefix(TOKEN_PREFIX).split("_")[0])
        if row is None:
            raise NotFoundError(f"no API token {token_id!r}")
        if row.member != actor.name:
            actor = project.require(Permission.MANAGE_MEMBERS)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            project.record(s, "token.revoke", {"token_id": row.id, "member": row.member}, actor=actor)
        return token_info(row)


def key_info(row: IngestKeyRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_by": row.created_by, "created_at": iso(row.created_at),
            "revoked_at": iso(row.revoked_at), "state": "revoked" if row.revoked_at is not None else "active"}


def create_ingest_key(project: Project, name: str = "ingestion") -> dict[str, Any]:
    """A project ingestion key (``x-api-key``): it may only add samples, as the member who made it."""
    actor = project.require(Permission.INGEST_DATA)
    if not name.strip() or len(name) > 128:
        raise InputError("must be 1 to 128 characters", field="name")
    cid, secret, salt, digest = new_secret()
    with project.session() as s:
        row = IngestKeyRow(id=cid, name=name, salt=salt, digest=digest, created_by=actor.name)
        s.add(row)
        s.flush()
        project.record(s, "ingest_key.create", {"key_id": cid, "name": name}, actor=actor)
        return {**key_info(row), "key": f"{KEY_PREFIX}{cid}_{secret}"}


def list_ingest_keys(project: Project) -> list[dict[str, Any]]:
    with project.read_session() as s:
        return [key_info(r) for r in s.execute(select(IngestKeyRow).order_by(IngestKeyRow.created_at))
                .scalars()]


def revoke_ingest_key(project: Project, key_id: str) -> dict[str, Any]:
    actor = project.require(Permission.INGEST_DATA)
    with project.session() as s:
        row = s.get(IngestKeyRow, key_id.removeprefix(KEY_PREFIX).split("_")[0])
        if row is None:
            raise NotFoundError(f"no ingestion key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            project.record(s, "ingest_key.revoke", {"key_id": row.id}, actor=actor)
        return key_info(row)


def split_secret(secret: str, prefix: str) -> tuple[str, str] | None:
    """``(id, secret part)`` of ``<prefix><id>_<secret>``; None when it is not one."""
    if not secret.startswith(prefix) or len(secret) > 256:
        return None
    cid, sep, rest = secret[len(prefix):].partition("_")
    return (cid, rest) if sep and cid and rest else None


def authenticate(project: Project, secret: str) -> Credential | None:
    """The credential a presented member token, ingestion key or device key stands for; None when it is unknown,
    revoked, expired, or its member has left. Digests are compared in constant time.

    Every request of the server comes through here, so it is one indexed read of the credential joined to its
    member (a revocation or a removed member takes effect on the next request) and writes nothing: the
    server runs it on its event loop. Recording the token's last use is :func:`record_use`'s job."""
    token, key = split_secret(secret, TOKEN_PREFIX), split_secret(secret, KEY_PREFIX)
    device = split_secret(secret, DEVICE_PREFIX)
    if token is None and key is None and device is None:
        hmac.compare_digest(secret, secret)  # about the same work as a real check
        return None
    reader = project.engine.execution_options(**{READ_ONLY: True})
    now = utcnow()
    with reader.connect() as conn:
        if device is not None:
            d = DeviceRow.__table__
            drow = conn.execute(select(d.c.id, d.c.salt, d.c.digest, d.c.revoked_at, d.c.member)
                                .join_from(d, MemberRow.__table__, MemberRow.name == d.c.member)
                                .where(d.c.id == device[0])).first()
            if (drow is None or drow.salt is None or drow.digest is None or drow.revoked_at is not None
                    or not hmac.compare_digest(drow.digest, secret_digest(drow.salt, device[1]))):
                return None
            return Credential(drow.member, drow.id, frozenset({Permission.INGEST_DATA.value}), "device")
        if token is not None:
            t = ApiTokenRow.__table__
            row = conn.execute(select(t.c.id, t.c.salt, t.c.digest, t.c.scopes, t.c.revoked_at, t.c.expires_at,
                                      t.c.member).join_from(t, MemberRow.__table__, MemberRow.name == t.c.member)
                               .where(t.c.id == token[0])).first()
            if row is None or not hmac.compare_digest(row.digest, secret_digest(row.salt, token[1])):
                return None
            if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
                return None
            cred = Credential(row.member, row.id, frozenset(row.scopes) if row.scopes else None, "token")
        else:
            assert key is not None
            k = IngestKeyRow.__table__
            krow = conn.execute(select(k.c.id, k.c.salt, k.c.digest, k.c.revoked_at, k.c.created_by)
                                .join_from(k, MemberRow.__table__, MemberRow.name == k.c.created_by)
                                .where(k.c.id == key[0])).first()
            if krow is None or not hmac.compare_digest(krow.digest, secret_digest(krow.salt, key[1])):
                return None
            if krow.revoked_at is not None:
                return None
            cred = Credential(krow.created_by, krow.id, frozenset({Permission.INGEST_DATA.value}), "ingest-key")
    return cred


_TOUCHED: dict[tuple[str, str], datetime] = {}  # (project id, token id) -> when this process last wrote its use
TOUCH_EVERY = timedelta(minutes=1)


def use_to_record(project: Project, cred: Credential) -> bool:
    """True when this process should write the token's last use now (at most once a minute per token), so the
    write lock is not taken on every request; claims the slot."""
    if cred.kind != "token":
        return False
    slot, now = (project.project_id, cred.credential_id), utcnow()
    last = _TOUCHED.get(slot)
    if last is not None and now - last < TOUCH_EVERY:
        return False
    _TOUCHED[slot] = now
    return True


def record_use(project: Project, token_id: str) -> None:
    """Write when a token was last used (a short write transaction: the server runs it in a thread)."""
    with project.session() as s:
        row = s.get(ApiTokenRow, token_id)
        if row is not None:
            row.last_used_at = utcnow()


def upload_key(project: Project) -> SignedOnly | None:
    """What uploads from devices and clients are checked with: signed messages against the project's HMAC key
    (if it has one), unsigned ones let through, as Edge Impulse's ingestion service does."""
    from crisp_eml.data.formats.ei_acquisition import SignedOnly

    key = hmac_key(project, create=False)
    return SignedOnly(key) if key else None


def hmac_key(project: Project, *, create: bool = True, rotate: bool = False) -> str | None:
    """The project's ingestion HMAC key (hex), made on first use: signed acquisition files are checked with it.
    Making or rotating it needs the ingest permission and is audited."""
    path = project.state_dir / HMAC_FILE
    if path.is_file() and not rotate:
        return path.read_text().strip() or None
    if not create and not rotate:
        return None
    actor = project.require(Permission.INGEST_DATA)
    key = secrets.token_hex(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.replace(tmp, path)
    with project.session() as s:
        project.record(s, "ingest_hmac.rotate" if rotate else "ingest_hmac.create",
                       {"key_sha256": hashlib.sha256(key.encode()).hexdigest()[:16]}, actor=actor)
    return key

