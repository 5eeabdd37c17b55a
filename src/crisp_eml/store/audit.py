"""Hash-chained, append-only audit trail.

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or
reordering any entry breaks the chain at that point; :func:`verify` names the first bad entry.
Entries are appended inside the same transaction as the change they describe, after taking the write lock
(SQLite: every write session starts with ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock),
so two writers never read the same last entry. The chain alone cannot show a deleted tail or a trail
recomputed with :func:`entry_digest`: :mod:`crisp_eml.store.audit_checkpoints` signs its head after each commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crisp_eml.store.tables.audit import AuditRow

GENESIS = "0" * 64
HEAD_KEY = "eml_audit_head"  # session.info: (seq, entry_hash, at) of the last entry appended in it
_PG_LOCK = 0x656D6C5F61756474  # advisory lock id ("eml_audt") serialising appends on PostgreSQL


def entry_digest(
    prev_hash: str, seq: int, at: str, actor: str, persona: str, action: str,
    artifacts: dict[str, Any], note: str | None,
) -> str:
    body = json.dumps(
        {"prev": prev_hash, "seq": seq, "at": at, "actor": actor, "persona": persona,
         "action": action, "artifacts": artifacts, "note": note},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    session: Session, *, actor: str, persona: str, action: str,
    artifacts: dict[str, Any] | None = None, note: str | None = None,
) -> AuditRow:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    last = session.execute(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).scalar_one_or_none()
    prev = last.entry_hash if last else GENESIS
    seq = (last.seq + 1) if last else 1
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    arts = json.loads(json.dumps(artifacts or {}, default=str))
    row = AuditRow(
        seq=seq, at=at, actor=actor, persona=persona, action=action, artifacts=arts, note=note,
        prev_hash=prev, entry_hash=entry_digest(prev, seq, at, actor, persona, action, arts, note),
    )
    session.add(row)
    session.flush()
    session.info[HEAD_KEY] = (row.seq, row.entry_hash, row.at)
    return row


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    reason: str


def verify(session: Session) -> list[AuditProblem]:
    """Return every broken link in the chain (empty when the log is intact)."""
    problems: list[AuditProblem] = []
    prev = GENESIS
    expected_seq = 1
    for row in session.execute(select(AuditRow).order_by(AuditRow.seq)).scalars():
        if row.seq != expected_seq:
            problems.append(AuditProblem(row.seq, f"entry {expected_seq} is missing before entry {row.seq}"))
        if row.prev_hash != prev:
            problems.append(AuditProblem(row.seq, "previous-hash link does not match the entry before it"))
        digest = entry_digest(row.prev_hash, row.seq, row.at, row.actor, row.persona, row.action,
                              row.artifacts, row.note)
        if digest != row.entry_hash:
            problems.append(AuditProblem(row.seq, "content does not match its hash (entry was edited)"))
        prev = row.entry_hash
        expected_seq = row.seq + 1
    return problems
