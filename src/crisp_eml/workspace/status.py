"""Use case: the phases board. Gathers facts from the project and lets ``core.lifecycle`` derive states."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisp_eml.core import gates
from crisp_eml.core.lifecycle import TITLES, Facts, Feedback, PhaseState, board
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import DatasetVersionRow, SampleRow
from crisp_eml.store.tables.impulse import ImpulseVersionRow
from crisp_eml.store.tables.learn import ModelAliasRow, ModelVersionRow, RunRow
from crisp_eml.store.tables.lifecycle import GateOverrideRow
from crisp_eml.workspace.gate import latest_any, latest_gate
from crisp_eml.workspace.requirements import current, known_targets


@dataclass
class Board:
    project: str
    phases: list[PhaseState]
    feedback: list[Feedback]
    facts: Facts

    @property
    def focus(self) -> str | None:
        """The first phase that is not done (where work goes next)."""
        for p in self.phases:
            if p.state != "done":
                return p.key
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "focus": self.focus,
                "phases": [p.to_dict() for p in self.phases],
                "feedback": [{"from": f.source, "to": f.to, "to_title": TITLES.get(f.to, f.to), "reason": f.reason}
                             for f in self.feedback]}


def _count(s: Session, col: Any, *where: Any) -> int:
    return int(s.execute(select(func.count(col)).where(*where)).scalar() or 0)


def latest_quality(s: Session) -> float | None:
    rows = s.execute(select(AuditRow).where(AuditRow.action.in_(("data.check", "dataset.check")))
                     .order_by(AuditRow.seq.desc()).limit(1)).scalars()
    for r in rows:
        v = (r.artifacts or {}).get("score", (r.artifacts or {}).get("quality_score"))
        if isinstance(v, int | float):
            return float(v)
    return None


def gather(project: Project) -> Facts:
    with project.session() as s:
        reqs = current(s)
        names = known_targets() if reqs.target else None
        gate = latest_any(s)
        prod = s.execute(select(ModelAliasRow).where(ModelAliasRow.alias == "production").limit(1)).scalar_one_or_none()
        prod_ok = False
        if prod is not None:
            pg = latest_gate(s, prod.name, prod.version)
            prod_ok = bool(pg and pg.passed) or _count(
                s, GateOverrideRow.id, GateOverrideRow.model_name == prod.name,
                GateOverrideRow.model_version == prod.version) > 0
        min_q = reqs.kpis.get("min_quality_score")
        dep = s.execute(select(AuditRow).where(AuditRow.action == "model.deploy")
                        .order_by(AuditRow.seq.desc()).limit(1)).scalar_one_or_none()
        deployed = f"{dep.artifacts.get('model')} on {dep.artifacts.get('target')}" if dep and dep.artifacts else None
        return Facts(
            kpi_count=len(reqs.kpis), target=reqs.target,
            target_known=(reqs.target in names) if names is not None and reqs.target else None,
            samples=_count(s, SampleRow.id, SampleRow.enabled.is_(True)),
            labels=_count(s, SampleRow.label.distinct(), SampleRow.enabled.is_(True)),
            dataset_versions=_count(s, DatasetVersionRow.id),
            quality_score=latest_quality(s), min_quality_score=float(min_q) if min_q is not None else None,
            impulses=_count(s, ImpulseVersionRow.id), runs=_count(s, RunRow.id),
            model_versions=_count(s, ModelVersionRow.version),
            compiled=_count(s, AuditRow.seq, AuditRow.action.like("compile%")),
            gate_model=f"models:/{gate.model_name}/{gate.model_version}" if gate else None,
            gate_passed=gate.passed if gate else None,
            gate_failed_rows=tuple(r["requirement"] for r in gate.rows if not r["passed"]) if gate else (),
            gate_failed_phases=tuple(gates.failed_phases(gate.rows)) if gate else (),
            production=f"models:/{prod.name}/{prod.version}" if prod else None, production_gated=prod_ok,
            deployed=deployed,
        )


def status(project: Project) -> Board:
    facts = gather(project)
    phases, loops = board(facts)
    return Board(project.name, phases, loops, facts)
