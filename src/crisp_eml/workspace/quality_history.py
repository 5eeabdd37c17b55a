"""Use case: the latest quality check of a layer, as the audit trail recorded it.

``eml data check`` stores no report, only a ``dataset.check`` audit entry (score, tier, sample count and the
digest of the data it scored). This reads that entry back and says whether the data still has that digest,
so a client can show the last score without re-running the check (``GET /api/v1/datasets/quality/latest``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import NotFoundError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.workspace.snapshot import check_layer, current_items, digest_items


def latest_check(project: Project, *, layer: str = "raw") -> dict[str, Any]:
    """The latest ``dataset.check`` of ``layer``: when, by whom, its score and tier, and ``current`` (True when
    the layer's enabled samples are still exactly the ones it scored). NotFoundError when none was run."""
    check_layer(layer)
    q = select(AuditRow).where(AuditRow.action == "dataset.check").order_by(AuditRow.seq.desc())
    with project.read_session() as s:
        for row in s.execute(q.execution_options(yield_per=100)).scalars():
            art = dict(row.artifacts or {})
            if art.get("layer", "raw") != layer:
                continue
            digest = digest_items(current_items(s, layer))
            return {"layer": layer, "score": art.get("score"), "tier": art.get("tier"), "samples": art.get("samples"),
                    "digest": art.get("digest"), "current": art.get("digest") == digest, "at": row.at,
                    "actor": row.actor, "seq": row.seq}
    raise NotFoundError(f"no quality check of layer '{layer}' has been run (POST /api/v1/datasets/quality or "
                        "'eml data check')")
