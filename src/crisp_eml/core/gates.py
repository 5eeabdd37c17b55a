"""Acceptance gates: compare a model version's evidence with every requirement, row by row.

Pure: evidence arrives as :class:`Evidence` items (value + where it came from); the result is a list
of :class:`GateRow` that the CLI prints, the store keeps and the report shows. Missing evidence fails
its row with "no evidence: <what to run>" so a gate can never pass by accident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from crisp_eml.core.requirements import KPIS, RequirementSet, split_key


@dataclass(frozen=True)
class Evidence:
    """One measured value and its provenance (e.g. ``run 3f2a.. metrics.test.int8``)."""

    key: str  # accuracy | f1 | f1.<class> | far | frr | latency_ms | ram_bytes | flash_bytes | ...
    value: float | int
    source: str


@dataclass(frozen=True)
class GateRow:
    requirement: str  # canonical KPI key, or "target"
    direction: str
    unit: str
    threshold: Any
    measured: Any
    passed: bool
    source: str
    note: str = ""
    phase: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classification_evidence(labels: Sequence[str], confusion: Sequence[Sequence[int]],
                            source: str) -> dict[str, Evidence]:
    """Accuracy, macro F1, per-class F1 and one-vs-rest FAR/FRR from a confusion matrix (rows = truth)."""
    n = len(labels)
    if n == 0 or len(confusion) != n or any(len(r) != n for r in confusion):
        raise ValueError("confusion matrix must be square with one row per label")
    total = sum(sum(int(v) for v in r) for r in confusion)
    if total == 0:
        return {}
    out: dict[str, Evidence] = {}
    correct = sum(int(confusion[i][i]) for i in range(n))
    out["accuracy"] = Evidence("accuracy", correct / total, source)
    f1s: list[float] = []
    fprs: list[float] = []
    fnrs: list[float] = []
    for i, label in enumerate(labels):
        tp = int(confusion[i][i])
        fn = sum(int(confusion[i][j]) for j in range(n)) - tp
        fp = sum(int(confusion[j][i]) for j in range(n)) - tp
        tn = total - tp - fn - fp
        f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
        f1s.append(f1)
        out[f"f1.{label}"] = Evidence(f"f1.{label}", f1, source)
        if tp + fn:
            fnrs.append(fn / (tp + fn))
        if fp + tn:
            fprs.append(fp / (fp + tn))
    out["f1"] = Evidence("f1", sum(f1s) / len(f1s), source)
    if fprs:
        out["far"] = Evidence("far", sum(fprs) / len(fprs), source)
    if fnrs:
        out["frr"] = Evidence("frr", sum(fnrs) / len(fnrs), source)
    return out


def _passes(direction: str, measured: float, threshold: float) -> bool:
    return measured >= threshold if direction == "min" else measured <= threshold


def evaluate(requirements: RequirementSet, evidence: Mapping[str, Evidence], *,
             target: str | None = None, evidence_target: str | None = None) -> list[GateRow]:
    """One row per requirement (plus the target when one is required). Empty requirements fail."""
    rows: list[GateRow] = []
    want_target = target or requirements.target
    if want_target and evidence_target and evidence_target != want_target:
        rows.append(GateRow("target", "equals", "name", want_target, evidence_target, False, "compiler manifest",
                            f"size/latency evidence is for {evidence_target}, not {want_target}",
                            "evaluation-concept-design"))
    if not requirements.kpis:
        rows.append(GateRow("requirements", "set", "", "at least one KPI", None, False, "project",
                            "no evidence: no requirements set ('eml requirements set KEY=VALUE')",
                            "business-understanding"))
        return rows
    for key, threshold in requirements.kpis.items():
        kpi, cls = split_key(key)
        ev_key = f"{kpi.evidence}.{cls}" if cls else kpi.evidence
        item = evidence.get(ev_key)
        if item is None and cls and kpi.per_class:
            note = f"no evidence: no measurement for class {cls!r} ({kpi.remedy})"
            rows.append(GateRow(key, kpi.direction, kpi.unit, threshold, None, False, "-", note, kpi.phase))
            continue
        if item is None:
            rows.append(GateRow(key, kpi.direction, kpi.unit, threshold, None, False, "-",
                                f"no evidence: {kpi.remedy}", kpi.phase))
            continue
        ok = _passes(kpi.direction, float(item.value), float(threshold))
        rows.append(GateRow(key, kpi.direction, kpi.unit, threshold, item.value, ok, item.source, "", kpi.phase))
    return rows


def passed(rows: Sequence[GateRow]) -> bool:
    return bool(rows) and all(r.passed for r in rows)


def failed_phases(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Phases that failing rows send work back to, in KPI order, without duplicates."""
    seen: list[str] = []
    for r in rows:
        if not r.get("passed") and r.get("phase") and r["phase"] not in seen:
            seen.append(str(r["phase"]))
    return seen


__all__ = ["KPIS", "Evidence", "GateRow", "classification_evidence", "evaluate", "failed_phases", "passed"]
