"""Use case: re-split a layer's samples into training/testing (deterministic, audited, one transaction)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError
from crisp_eml.core.personas import Permission
from crisp_eml.data.splits import SplitItem, split
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow


@dataclass
class RebalanceResult:
    test_fraction: float
    stratify: bool
    keep_together: str | None
    moves: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    missing_key: int = 0  # samples without the keep-together key (each kept as its own group)

    def to_dict(self) -> dict[str, Any]:
        return {"test_fraction": self.test_fraction, "stratify": self.stratify,
                "keep_together": self.keep_together, "moved": len(self.moves), "counts": self.counts,
                "missing_key": self.missing_key, "moves": self.moves}


def rebalance(
    project: Project, *, test_fraction: float = 0.2, stratify: bool = False, keep_together: str | None = None,
    layer: str = "raw",
) -> RebalanceResult:
    """Assign every enabled sample of ``layer`` to training/testing and report who moved."""
    actor = project.require(Permission.LABEL_DATA)
    if keep_together is not None and not keep_together.strip():
        raise InputError("the keep-together key is empty", field="keep-together")
    with project.session() as s:
        rows = list(s.execute(select(SampleRow).where(SampleRow.layer == layer, SampleRow.enabled.is_(True))
                              .order_by(SampleRow.id)).scalars())
        if not rows:
            raise InputError(f"no enabled samples in layer '{layer}'", field="layer")
        missing = 0
        items = []
        for r in rows:
            group = None
            if keep_together:
                v = (r.meta or {}).get(keep_together)
                if v is None:
                    missing += 1
                else:
                    group = str(v)
            items.append(SplitItem(r.id, r.hash, r.label, group))
        if keep_together and missing == len(rows):
            raise InputError(f"no sample has metadata key '{keep_together}'", field="keep-together")
        assignment = split(items, test_fraction, stratify=stratify, keep_together=bool(keep_together))
        result = RebalanceResult(test_fraction, stratify, keep_together, missing_key=missing)
        for r in rows:
            new = assignment[r.id]
            if new != r.category:
                result.moves.append({"id": r.id, "name": r.name, "label": r.label, "from": r.category, "to": new})
                r.category = new
        result.counts = dict(sorted(Counter(assignment.values()).items()))
        s.flush()
        project.record(s, "dataset.rebalance", {
            "layer": layer, "test_fraction": test_fraction, "stratify": stratify, "keep_together": keep_together,
            "moved": [m["id"] for m in result.moves], "counts": result.counts}, actor=actor)
        return result
