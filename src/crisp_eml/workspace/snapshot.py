"""Use case: immutable dataset versions — snapshot, ensure, list, show, diff and restore.

A version is the set of (sample id, content hash, name, label, category) of one layer's enabled
samples, plus a sha256 digest over those items sorted by sample id, so two versions with the same
digest hold exactly the same data. Training calls :func:`ensure_version` so every run records one.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError, NotFoundError, PermissionDeniedError, ProjectError
from crisp_eml.core.personas import Permission, allowed
from crisp_eml.store.project import Actor, Project
from crisp_eml.store.tables.data import DatasetVersionItemRow, DatasetVersionRow, SampleRow

LAYERS = ("raw", "clean")
Item = tuple[str, str, str, str | None, str]  # (sample id, hash, name, label, category)


@dataclass(frozen=True)
class VersionInfo:
    id: int
    message: str
    digest: str
    layer: str
    author: str
    created_at: str
    n_samples: int
    labels: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "message": self.message, "digest": self.digest, "layer": self.layer,
                "author": self.author, "created_at": self.created_at, "n_samples": self.n_samples,
                "labels": self.labels, "categories": self.categories}


def check_layer(layer: str) -> str:
    if layer not in LAYERS:
        raise InputError(f"unknown layer {layer!r}; one of {list(LAYERS)}", field="layer")
    return layer


def digest_items(items: list[Item]) -> str:
    """sha256 over the items sorted by sample id (canonical JSON)."""
    body = json.dumps(sorted(items, key=lambda it: it[0]), separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def current_items(session: Session, layer: str = "raw") -> list[Item]:
    q = select(SampleRow).where(SampleRow.layer == layer, SampleRow.enabled.is_(True)).order_by(SampleRow.id)
    return [(r.id, r.hash, r.name, r.label, r.category) for r in session.execute(q).scalars()]


def _items_of(session: Session, version_id: int) -> list[Item]:
    q = select(DatasetVersionItemRow).where(DatasetVersionItemRow.version_id == version_id) \
        .order_by(DatasetVersionItemRow.sample_id)
    return [(r.sample_id, r.hash, r.name, r.label, r.category) for r in session.execute(q).scalars()]


def _info(row: DatasetVersionRow, items: list[Item]) -> VersionInfo:
    labels = Counter(it[3] if it[3] is not None else "(unlabeled)" for it in items)
    cats = Counter(it[4] for it in items)
    return VersionInfo(row.id, row.message, row.digest, row.layer, row.author,
                       row.created_at.isoformat(timespec="seconds"), len(items),
                       dict(sorted(labels.items())), dict(sorted(cats.items())))


def create_version(project: Project, s: Session, message: str, layer: str, actor: Actor) -> VersionInfo:
    items = current_items(s, layer)
    if not items:
        raise InputError(f"no enabled samples in layer '{layer}' to snapshot", field="layer")
    digest = digest_items(items)
    row = DatasetVersionRow(message=message, digest=digest, layer=layer, author=actor.name)
    s.add(row)
    s.flush()
    s.add_all(DatasetVersionItemRow(version_id=row.id, sample_id=i, hash=h, name=n, label=lbl, category=c)
              for i, h, n, lbl, c in items)
    s.flush()
    project.record(s, "dataset.snapshot", {"version": row.id, "digest": digest, "layer": layer,
                                           "samples": len(items)}, note=message, actor=actor)
    return _info(row, items)


def snapshot(project: Project, message: str, *, layer: str = "raw") -> VersionInfo:
    """Record the layer's current enabled samples as a new immutable version."""
    actor = project.require(Permission.INGEST_DATA)
    check_layer(layer)
    if not message.strip():
        raise InputError("a snapshot needs a message", field="message")
    with project.session() as s:
        return create_version(project, s, message, layer, actor)


def ensure_version(project: Project, message: str = "auto", *, layer: str = "raw") -> int:
    """The latest version's id if it matches the current data of ``layer``; otherwise a new version's id.

    Allowed to members who may ingest data or train (training records the version it used).
    """
    actor = project.actor
    if not (allowed(actor.persona, Permission.INGEST_DATA, owner=actor.owner)
            or allowed(actor.persona, Permission.TRAIN, owner=actor.owner)):
        raise PermissionDeniedError(f"member '{actor.name}' ({actor.persona}) may not record dataset versions")
    check_layer(layer)
    with project.session() as s:
        digest = digest_items(current_items(s, layer))
        last = s.execute(select(DatasetVersionRow).where(DatasetVersionRow.layer == layer)
                         .order_by(DatasetVersionRow.id.desc()).limit(1)).scalar_one_or_none()
        if last is not None and last.digest == digest:
            return last.id
        return create_version(project, s, message, layer, actor).id


def list_versions(project: Project, *, layer: str | None = None) -> list[VersionInfo]:
    with project.read_session() as s:
        q = select(DatasetVersionRow).order_by(DatasetVersionRow.id)
        if layer:
            q = q.where(DatasetVersionRow.layer == check_layer(layer))
        return [_info(r, _items_of(s, r.id)) for r in s.execute(q).scalars()]


def _get(s: Session, version_id: int) -> DatasetVersionRow:
    row = s.get(DatasetVersionRow, version_id)
    if row is None:
        n = s.execute(select(func.count()).select_from(DatasetVersionRow)).scalar_one()
        raise NotFoundError(f"no dataset version {version_id} (the project has {n})")
    return row


def show_version(project: Project, version_id: int) -> tuple[VersionInfo, list[dict[str, Any]]]:
    """The version's summary and its items."""
    with project.read_session() as s:
        row = _get(s, version_id)
        items = _items_of(s, version_id)
        return _info(row, items), [{"sample_id": i, "hash": h, "name": n, "label": lbl, "category": c}
                                   for i, h, n, lbl, c in items]


def diff_items(a: list[Item], b: list[Item]) -> dict[str, list[dict[str, Any]]]:
    """What changed from ``a`` to ``b``: added, removed, relabeled, recategorized, changed content."""
    da = {it[0]: it for it in a}
    db = {it[0]: it for it in b}
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "relabeled": [], "recategorized": [],
                                            "changed": []}
    for sid in sorted(db.keys() - da.keys()):
        out["added"].append({"sample_id": sid, "name": db[sid][2], "label": db[sid][3], "category": db[sid][4]})
    for sid in sorted(da.keys() - db.keys()):
        out["removed"].append({"sample_id": sid, "name": da[sid][2], "label": da[sid][3], "category": da[sid][4]})
    for sid in sorted(da.keys() & db.keys()):
        x, y = da[sid], db[sid]
        if x[3] != y[3]:
            out["relabeled"].append({"sample_id": sid, "name": y[2], "from": x[3], "to": y[3]})
        if x[4] != y[4]:
            out["recategorized"].append({"sample_id": sid, "name": y[2], "from": x[4], "to": y[4]})
        if x[1] != y[1]:
            out["changed"].append({"sample_id": sid, "name": y[2], "from": x[1], "to": y[1]})
    return out


def diff_versions(project: Project, a: int, b: int) -> dict[str, Any]:
    with project.read_session() as s:
        _get(s, a)
        _get(s, b)
        d: dict[str, Any] = {"from": a, "to": b}
        d.update(diff_items(_items_of(s, a), _items_of(s, b)))
        return d


def restore_version(project: Project, version_id: int) -> dict[str, Any]:
    """Make the version's layer match it: enable its samples (labels and categories as recorded),
    disable the others. Every sample of the version must still exist with its blob, or nothing changes.
    """
    actor = project.require(Permission.LABEL_DATA)
    with project.session() as s:
        vrow = _get(s, version_id)
        items = _items_of(s, version_id)
        rows = {r.id: r for r in s.execute(select(SampleRow).where(SampleRow.layer == vrow.layer)).scalars()}
        gone = [it[2] for it in items if it[0] not in rows or rows[it[0]].hash != it[1]]
        missing_blobs = [it[2] for it in items if it[0] in rows and not project.blobs.exists(it[1])]
        if gone or missing_blobs:
            names = (gone + missing_blobs)[:5]
            raise NotFoundError(
                f"cannot restore version {version_id}: {len(gone)} sample(s) no longer exist and "
                f"{len(missing_blobs)} blob(s) are gone (e.g. {', '.join(names)})")
        wanted = {it[0]: it for it in items}
        changes = {"enabled": 0, "disabled": 0, "relabeled": 0, "recategorized": 0}
        for sid, row in rows.items():
            if sid in wanted:
                _, _, name, label, category = wanted[sid]
                row.name = name
                if not row.enabled:
                    row.enabled = True
                    changes["enabled"] += 1
                if row.label != label:
                    row.label = label
                    changes["relabeled"] += 1
                if row.category != category:
                    row.category = category
                    changes["recategorized"] += 1
            elif row.enabled:
                row.enabled = False
                changes["disabled"] += 1
        s.flush()
        if digest_items(current_items(s, vrow.layer)) != vrow.digest:
            raise ProjectError(f"version {version_id} could not be reproduced exactly; nothing was changed")
        project.record(s, "dataset.restore", {"version": version_id, "digest": vrow.digest, "layer": vrow.layer,
                                              **changes}, actor=actor)
        return {"version": version_id, "layer": vrow.layer, "digest": vrow.digest, **changes}
