"""Use case ``gc``: delete blobs that nothing in the metadata database references any more.

References are collected generically from *every* table in the live database (reflected, so tables
added by later capabilities count without changes here): every column named ``hash`` or ``*_hash``,
and every JSON column named ``artifacts`` (any 64-hex string anywhere inside it). The audit log is
excluded on purpose: it records history (including removed samples), not live references, and its
``*_hash`` columns are chain hashes, not blobs. Blobs younger than ``min_age_s`` are kept so a gc racing
a running ingest cannot remove a blob whose row is about to be committed.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, Table, inspect, select

from crisp_eml.core.errors import InputError
from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project

EXCLUDED_TABLES = {"audit_log", "alembic_version"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class GcReport:
    referenced: int
    removed: list[str]
    kept_young: int

    def to_dict(self) -> dict[str, Any]:
        return {"referenced": self.referenced, "removed": len(self.removed), "removed_blobs": self.removed,
                "kept_young": self.kept_young}


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if _HEX64.match(value):
            yield value
        elif value[:1] in "{[":
            try:
                yield from _walk(json.loads(value))
            except ValueError:
                return
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v)


def referenced_blobs(project: Project) -> set[str]:
    """Every blob hash any table (but the audit log) refers to."""
    refs: set[str] = set()
    insp = inspect(project.engine)
    md = MetaData()
    with project.engine.connect() as conn:
        for name in insp.get_table_names():
            if name in EXCLUDED_TABLES:
                continue
            table = Table(name, md, autoload_with=conn)
            cols = [c for c in table.columns if c.name == "hash" or c.name.endswith("_hash") or c.name == "artifacts"]
            if not cols:
                continue
            for row in conn.execute(select(*cols)):
                for v in row:
                    refs.update(_walk(v))
    return refs


def gc_blobs(project: Project, *, min_age_s: float = 0.0, dry_run: bool = False) -> GcReport:
    actor = project.require(Permission.INGEST_DATA)
    if not math.isfinite(min_age_s) or min_age_s < 0:
        raise InputError(f"must be a non-negative number of seconds, got {min_age_s!r}", field="min-age")
    refs = referenced_blobs(project)
    young: set[str] = set()
    if min_age_s > 0:
        now = time.time()
        for d in project.blobs:
            if d not in refs:
                info = project.blobs.fs.info(project.blobs.path(d))
                mtime = info.get("mtime") or info.get("LastModified") or info.get("created")
                ts = mtime.timestamp() if hasattr(mtime, "timestamp") else float(mtime or 0)
                if now - ts < min_age_s:
                    young.add(d)
    if dry_run:
        removed = sorted(d for d in project.blobs if d not in refs and d not in young)
    else:
        removed = sorted(project.blobs.gc(refs | young))
    if removed and not dry_run:
        with project.session() as s:
            project.record(s, "blob.gc", {"removed": len(removed)}, actor=actor)
    return GcReport(referenced=len(refs), removed=removed, kept_young=len(young))
