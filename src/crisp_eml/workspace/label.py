"""Use case ``label``: change the label (and/or training/testing category) of one or more samples.

Every sample is resolved first (unknown id or name -> :class:`NotFoundError`, nothing changed); then all
edits and one ``sample.label`` audit entry (old -> new for each sample) commit in a single transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisp_eml.core.errors import ConflictError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.data.samples import get_sample
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow

CATEGORIES = ("training", "testing")


@dataclass
class LabelResult:
    changes: list[dict[str, Any]] = field(default_factory=list)  # one per sample: id, name, old/new
    unchanged: list[str] = field(default_factory=list)  # sample ids that already had the wanted values

    def to_dict(self) -> dict[str, Any]:
        return {"changed": len(self.changes), "changes": self.changes, "unchanged": self.unchanged}


def label_samples(project: Project, refs: list[str], label: str | None = None, *,
                  category: str | None = None) -> LabelResult:
    """Set ``label`` and/or ``category`` on the samples ``refs`` (ids or unique names)."""
    actor = project.require(Permission.LABEL_DATA)
    if not refs:
        raise InputError("give at least one sample id or name", field="sample")
    if label is None and category is None:
        raise InputError("nothing to change: give a label and/or --category", field="label")
    if label is not None:
        label = label.strip()
        if not label:
            raise InputError("the label is empty", field="label")
    if category is not None and category not in CATEGORIES:
        raise InputError(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}", field="category")
    ids: list[str] = []
    for ref in refs:
        sid = get_sample(project, ref).id
        if sid not in ids:
            ids.append(sid)
    result = LabelResult()
    with project.session() as s:
        for sid in ids:
            row = s.get(SampleRow, sid)
            if row is None:
                raise ConflictError(f"sample {sid} was removed concurrently")
            change: dict[str, Any] = {"sample": row.id, "name": row.name, "hash": row.hash}
            if label is not None and row.label != label:
                change["label"] = {"old": row.label, "new": label}
                row.label = label
            if category is not None and row.category != category:
                change["category"] = {"old": row.category, "new": category}
                row.category = category
            if "label" in change or "category" in change:
                result.changes.append(change)
            else:
                result.unchanged.append(row.id)
        if result.changes:
            project.record(s, "sample.label", {"samples": result.changes}, actor=actor)
    return result
