"""Use case: how many samples each label has in training and in testing (the Studio's train/test balance and
its label filter, ``GET /api/v1/data/summary``).

One ``GROUP BY`` in the database over the enabled samples of a layer, read as a plain snapshot that never waits
for writers, so the Studio does not have to page through every sample to count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import CATEGORIES, LAYERS
from crisp_eml.store.db import READ_ONLY
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow


@dataclass
class SampleSummary:
    layer: str
    total: int = 0
    #: label ('' for unlabeled samples) -> category -> count, labels sorted
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "total": self.total, "categories": self.categories, "kinds": self.kinds,
                "labels": [{"label": k, **v} for k, v in self.labels.items()]}


def summarize_samples(project: Project, layer: str = "raw") -> SampleSummary:
    """Counts of the enabled samples of ``layer`` by label and category, and by kind."""
    if layer not in LAYERS:
        raise InputError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}", field="layer")
    where = (SampleRow.layer == layer, SampleRow.enabled.is_(True))
    n = func.count()
    with project.engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        by_label = list(conn.execute(select(SampleRow.label, SampleRow.category, n).where(*where)
                                     .group_by(SampleRow.label, SampleRow.category)))
        by_kind = list(conn.execute(select(SampleRow.kind, n).where(*where).group_by(SampleRow.kind)))
    out = SampleSummary(layer, categories=dict.fromkeys(CATEGORIES, 0))
    for label, category, count in sorted(by_label, key=lambda r: (r[0] or "", r[1])):
        counts = out.labels.setdefault(label or "", dict.fromkeys(CATEGORIES, 0))
        counts[category] = counts.get(category, 0) + int(count)
        out.categories[category] = out.categories.get(category, 0) + int(count)
        out.total += int(count)
    out.kinds = {kind: int(count) for kind, count in sorted(by_kind)}
    return out
