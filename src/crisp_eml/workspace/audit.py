"""Use case: read and verify the hash-chained audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError
from crisp_eml.store import audit as chain
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    problems: list[chain.AuditProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries,
                "problems": [{"seq": p.seq, "reason": p.reason} for p in self.problems]}


def entry_dict(row: AuditRow) -> dict[str, Any]:
    return {"seq": row.seq, "at": row.at, "actor": row.actor, "persona": row.persona, "action": row.action,
            "artifacts": row.artifacts, "note": row.note, "hash": row.entry_hash}


def log(project: Project, action: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries oldest first; ``action`` matches exactly or as a prefix (``gate`` matches ``gate.evaluate``)."""
    if limit is not None and limit < 0:
        raise InputError(f"must be a positive number of entries (0: all), got {limit}", field="limit")
    with project.session() as s:
        q = select(AuditRow).order_by(AuditRow.seq)
        if action:
            q = q.where((AuditRow.action == action) | AuditRow.action.like(f"{action}.%"))
        rows = [entry_dict(r) for r in s.execute(q).scalars()]
    return rows[-limit:] if limit else rows


def verify(project: Project) -> VerifyResult:
    with project.session() as s:
        n = len(list(s.execute(select(AuditRow.seq)).scalars()))
        return VerifyResult(n, chain.verify(s))
