"""Use case: one page of samples, filtered and counted in SQL (the server's ``GET /api/v1/samples``).

``data.samples.list_samples`` loads every matching row as an entity, which is right for training and for
``eml data ls`` but not for a server answering many clients: here the filter, the order (name, then id, as
``list_samples``), ``LIMIT``/``OFFSET`` and a ``COUNT`` all run in the database, only the columns a listing
shows are read (not the metadata, which may hold a timestamp per row), and the read is a plain snapshot that
never waits for writers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from crisp_eml.core.errors import InputError
from crisp_eml.core.paging import LIKE_ESCAPE, check_page, like_literal
from crisp_eml.core.sample import CATEGORIES, LAYERS
from crisp_eml.store.db import READ_ONLY
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import SampleRow

KINDS = ("timeseries", "audio", "image")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: the columns a listing shows (``eml data ls --json`` fields, plus layer, enabled and created_at)
_COLUMNS = (SampleRow.id, SampleRow.name, SampleRow.label, SampleRow.category, SampleRow.kind, SampleRow.sensors,
            SampleRow.frequency_hz, SampleRow.length, SampleRow.shape, SampleRow.hash, SampleRow.source,
            SampleRow.layer, SampleRow.enabled, SampleRow.created_at)


@dataclass
class SamplePage:
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0  # samples matching the filters, on every page
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "total": self.total, "limit": self.limit, "offset": self.offset}


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"unknown {what} {value!r}; one of {', '.join(allowed)}", field=what)


def _item(row: Any) -> dict[str, Any]:
    created: datetime | None = row.created_at
    return {"id": row.id, "name": row.name, "label": row.label, "category": row.category, "kind": row.kind,
            "sensors": [{"name": s["name"], "units": s.get("units")} for s in row.sensors],
            "frequency_hz": row.frequency_hz, "length": row.length, "shape": list(row.shape), "hash": row.hash,
            "source": row.source, "layer": row.layer, "enabled": row.enabled,
            "created_at": created.isoformat() if created else None}


def _check(category: str | None, layer: str, kind: str | None, limit: int, offset: int) -> None:
    _choice(layer, LAYERS, "layer")
    _choice(category, CATEGORIES, "category")
    _choice(kind, KINDS, "kind")
    check_page(limit, offset, MAX_LIMIT)


def _reader(project: Project) -> Any:
    """A Core connection for a read-only snapshot (cheaper than an ORM session on a per-request path)."""
    return project.engine.execution_options(**{READ_ONLY: True}).connect()


def _head(conn: Any) -> int | None:
    return conn.execute(select(func.max(AuditRow.seq))).scalar()


def cached_page(
    project: Project, *, category: str | None = None, label: str | None = None, layer: str = "raw",
    kind: str | None = None, search: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0,
) -> SamplePage | None:
    """The page :func:`query_samples` would return, if this process read it since the project last changed;
    None otherwise. Costs one indexed read (the audit head): the server answers from it without a thread."""
    _check(category, layer, kind, limit, offset)
    with _reader(project) as conn:
        return _CACHE.get((project.project_id, project.metadata_url, category, label, layer, kind, search, limit,
                           offset), _head(conn))


def query_samples(
    project: Project, *, category: str | None = None, label: str | None = None, layer: str = "raw",
    kind: str | None = None, search: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0,
) -> SamplePage:
    """The enabled samples of ``layer`` matching every filter given, ordered by name then id, from ``offset``.

    ``search`` matches a substring of the name (case-insensitive for ASCII on SQLite); ``label=""`` matches
    unlabeled samples.
    """
    _check(category, layer, kind, limit, offset)
    where: list[ColumnElement[bool]] = [SampleRow.layer == layer, SampleRow.enabled.is_(True)]
    if category is not None:
        where.append(SampleRow.category == category)
    if label is not None:
        where.append(SampleRow.label.is_(None) if label == "" else SampleRow.label == label)
    if kind is not None:
        where.append(SampleRow.kind == kind)
    if search:
        where.append(SampleRow.name.ilike(f"%{like_literal(search)}%", escape=LIKE_ESCAPE))
    page = select(*_COLUMNS).where(*where).order_by(SampleRow.name, SampleRow.id).limit(limit).offset(offset)
    key = (project.project_id, project.metadata_url, category, label, layer, kind, search, limit, offset)
    with _reader(project) as conn:
        head = _head(conn)  # the same snapshot as the page below
        cached = _CACHE.get(key, head)
        if cached is not None:
            return cached
        rows = list(conn.execute(page))
        if offset == 0 and len(rows) < limit:
            total = len(rows)  # the whole result is on this page: no second query
        else:
            total = int(conn.execute(select(func.count()).select_from(SampleRow).where(*where)).scalar_one())
    result = SamplePage([_item(r) for r in rows], total, limit, offset)
    _CACHE.put(key, head, result)
    return result


class _PageCache:
    """Pages already read, valid while the audit trail's head is unchanged.

    Every change to the project's samples is made by a use case that appends its audit entry in the same
    transaction (the store's rule), so an unchanged head means unchanged samples, whichever process wrote
    last. A server answering many clients that page through the same data then reads one number per request
    instead of a page and a count. Small (the most recent pages), per process, thread-safe.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], tuple[int | None, SamplePage]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], head: int | None) -> SamplePage | None:
        with self._lock:
            hit = self._pages.get(key)
            if hit is None or hit[0] != head:
                return None
            self._pages.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], head: int | None, page: SamplePage) -> None:
        with self._lock:
            self._pages[key] = (head, page)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


_CACHE = _PageCache()
