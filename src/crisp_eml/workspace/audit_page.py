"""Use case: one page of the audit trail (the server's ``GET /audit``; ``eml audit log`` shows it whole).

Paging is done by the database (``OFFSET``/``LIMIT`` over ``seq``), so a page costs the same on a trail of
millions of entries; the trail is append-only, so oldest-first pages never shift under a reader.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from crisp_eml.core.paging import LIKE_ESCAPE, check_page, like_literal
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.workspace.audit import entry_dict

MAX_PAGE = 1000


def audit_page(project: Project, *, action: str | None = None, actor: str | None = None, offset: int = 0,
               limit: int = 100, newest_first: bool = False) -> dict[str, Any]:
    """Entries matching ``action`` (exactly or as a prefix: ``gate`` matches ``gate.evaluate``) and ``actor``."""
    check_page(limit, offset, MAX_PAGE)
    where: list[ColumnElement[bool]] = []
    if action:
        where.append((AuditRow.action == action)
                     | AuditRow.action.like(f"{like_literal(action)}.%", escape=LIKE_ESCAPE))
    if actor:
        where.append(AuditRow.actor == actor)
    order = AuditRow.seq.desc() if newest_first else AuditRow.seq
    with project.read_session() as s:
        total = int(s.execute(select(func.count()).select_from(AuditRow).where(*where)).scalar() or 0)
        rows = s.execute(select(AuditRow).where(*where).order_by(order).offset(offset).limit(limit)).scalars()
        entries = [entry_dict(r) for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "entries": entries}
