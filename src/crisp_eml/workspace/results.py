"""Use cases: read the stored results of the lifecycle's long steps, for the server and the Studio.

``eml compile``, ``verify``, ``profile``, ``deploy`` and ``report`` keep their outcome in their audit entry
(``compiler.compile``, ``compiler.verify``, ``compiler.profile``, ``model.deploy``, ``report.write``); gate results
have their own table. This module lists and fetches them, and hands out a deployed bundle's bytes only while they
still hash to the sha256 its ``model.deploy`` entry recorded (an edited or replaced file is never served).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from crisp_eml.core.errors import ConflictError, InputError, NotFoundError
from crisp_eml.core.paging import check_page
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.lifecycle import GateResultRow
from crisp_eml.workspace.gate import GateOutcome, outcome

#: result kind -> the audit action that stores it
KINDS = {"compile": "compiler.compile", "verify": "compiler.verify", "profile": "compiler.profile",
         "bundle": "model.deploy", "report": "report.write"}
MAX_PAGE = 1000
MAX_BUNDLE_BYTES = 1 << 30


def _result(row: AuditRow) -> dict[str, Any]:
    return {"id": row.seq, "at": row.at, "actor": row.actor, "note": row.note, **(row.artifacts or {})}


def list_results(project: Project, kind: str, *, model: str | None = None, offset: int = 0,
                 limit: int = 100) -> dict[str, Any]:
    """Stored results of ``kind`` (see :data:`KINDS`), newest first; ``model`` keeps those of one model URI."""
    action = KINDS.get(kind)
    if action is None:
        raise InputError(f"unknown result kind {kind!r}; one of {sorted(KINDS)}", field="kind")
    check_page(limit, offset, MAX_PAGE)
    with project.read_session() as s:
        rows = [r for r in s.execute(select(AuditRow).where(AuditRow.action == action)
                                     .order_by(AuditRow.seq.desc())).scalars()
                if model is None or (r.artifacts or {}).get("model") == model]
    return {"total": len(rows), "offset": offset, "limit": limit,
            "results": [_result(r) for r in rows[offset:offset + limit]]}


def get_result(project: Project, kind: str, result_id: int) -> dict[str, Any]:
    action = KINDS.get(kind)
    if action is None:
        raise InputError(f"unknown result kind {kind!r}; one of {sorted(KINDS)}", field="kind")
    with project.read_session() as s:
        row = s.get(AuditRow, result_id)
        if row is None or row.action != action:
            raise NotFoundError(f"no {kind} result #{result_id}")
        return _result(row)


def get_gate(project: Project, gate_id: int) -> GateOutcome:
    with project.read_session() as s:
        row = s.get(GateResultRow, gate_id)
        if row is None:
            last = s.execute(select(func.max(GateResultRow.id))).scalar()
            raise NotFoundError(f"no gate result #{gate_id} ({'none yet' if last is None else f'the last is #{last}'})")
        return outcome(row)


def bundle_bytes(project: Project, bundle_id: int) -> tuple[str, bytes]:
    """(file name, bytes) of the bundle deployed as audit entry ``bundle_id``, checked against its sha256."""
    info = get_result(project, "bundle", bundle_id)
    path, want = Path(str(info.get("bundle") or "")), str(info.get("bundle_sha256") or "")
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise ConflictError(f"bundle #{bundle_id} ({path.name}) is larger than {MAX_BUNDLE_BYTES} bytes")
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        raise NotFoundError(f"bundle #{bundle_id} ({path.name}) is no longer on the server's disk") from exc
    if hashlib.sha256(data).hexdigest() != want:
        raise ConflictError(f"bundle #{bundle_id} ({path.name}) changed since it was deployed (its sha256 no longer "
                            "matches the audit trail); deploy it again")
    return path.name, data
