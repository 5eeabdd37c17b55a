"""Use case: run the acceptance gate for a model version and store the result (Development & Testing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core import gates
from crisp_eml.core.errors import InputError
from crisp_eml.core.personas import Permission
from crisp_eml.lifecycle.evidence import EvidenceBundle, ModelRef, collect, resolve, run_artifacts
from crisp_eml.lifecycle.library_check import check_library
from crisp_eml.store.project import Project
from crisp_eml.store.tables.lifecycle import GateResultRow
from crisp_eml.workspace.requirements import canonical_target, current


@dataclass
class GateOutcome:
    id: int
    model: str
    version: int
    target: str | None
    requirements_version: int
    passed: bool
    rows: list[dict[str, Any]]
    evidence: dict[str, Any] = field(default_factory=dict)
    at: str = ""
    actor: str = ""

    @property
    def failed(self) -> list[str]:
        return [r["requirement"] for r in self.rows if not r["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "model": f"models:/{self.model}/{self.version}", "name": self.model,
                "version": self.version, "target": self.target, "requirements_version": self.requirements_version,
                "passed": self.passed, "failed": self.failed, "rows": self.rows, "evidence": self.evidence,
                "at": self.at, "actor": self.actor}


def outcome(row: GateResultRow) -> GateOutcome:
    return GateOutcome(row.id, row.model_name, row.model_version, row.target, row.requirements_version or 0,
                       row.passed, list(row.rows), dict(row.evidence), row.at.isoformat(timespec="seconds"), row.actor)


def latest_gate(session: Session, name: str, version: int, target: str | None = None) -> GateResultRow | None:
    """The latest gate of ``name/version`` (only gates checked against ``target`` when one is given)."""
    q = select(GateResultRow).where(GateResultRow.model_name == name, GateResultRow.model_version == version)
    if target is not None:
        q = q.where(GateResultRow.target == target)
    return session.execute(q.order_by(GateResultRow.id.desc()).limit(1)).scalar_one_or_none()


def latest_any(session: Session) -> GateResultRow | None:
    return session.execute(select(GateResultRow).order_by(GateResultRow.id.desc()).limit(1)).scalar_one_or_none()


def evaluate_bundle(session: Session, ref: ModelRef, bundle: EvidenceBundle,
                    target: str | None, actor_name: str) -> GateResultRow:
    reqs = current(session)
    want = target or reqs.target
    rows = gates.evaluate(reqs, bundle.items, target=want, evidence_target=bundle.target)
    row = GateResultRow(model_name=ref.name, model_version=ref.version, target=want,
                        requirements_version=reqs.version, passed=gates.passed(rows),
                        rows=[r.to_dict() for r in rows], evidence=bundle.to_dict(), actor=actor_name)
    session.add(row)
    session.flush()
    return row


def _library_ref(library: dict[str, Any] | None) -> dict[str, Any] | None:
    """The re-derived library the gate took RAM/flash from (its digests), for the audit entry."""
    if library is None:
        return None
    return {k: library.get(k) for k in ("out", "sources_sha256", "manifest_sha256", "files_sha256")}


def run_gate(project: Project, model: str, target: str | None = None, *, library: Path | None = None,
             profile: bool = False) -> GateOutcome:
    """Evaluate ``model`` (``models:/name@alias`` or ``models:/name/3``) against every requirement.

    ``profile``: measure the ``library`` on the target now (cross build + QEMU) for RAM, flash and latency.
    A library (given, or found through the latest ``eml compile``) counts only once re-derived from the model
    byte for byte (:mod:`crisp_eml.lifecycle.library_check`): an edited ``MANIFEST.json`` or source is refused
    with :class:`VerificationError`, and its digests and figures are stored with the result for ``eml deploy``.
    """
    actor = project.require(Permission.APPROVE_GATE)
    target = canonical_target(target) if target else None
    prof = None
    if profile:
        if library is None:
            raise InputError("--profile needs --library DIR (the compiled library to measure)", field="profile")
        with project.read_session() as s:
            want = target or current(s).target
            ref = resolve(s, model)
            check_library(project, run_artifacts(s, ref), ref.uri, library)  # never measure an edited library
        if not want:
            raise InputError("--profile needs a target: --target T or 'eml requirements set target=T'",
                             field="target")
        from crisp_eml.workspace.profile import profile as run_profile

        prof = run_profile(str(library), want, use_project=False)
    # Evidence is gathered from a snapshot (collecting may run a data check, which writes its own entry);
    # the verdict and its audit entry are then written in one transaction.
    with project.read_session() as s:
        ref = resolve(s, model)
        bundle = collect(project, s, ref, library=library, profile=prof, target=target or current(s).target)
    with project.session() as s:
        row = evaluate_bundle(s, ref, bundle, target, actor.name)
        result = outcome(row)
        project.record(s, "gate.evaluate", {"model": ref.uri, "run": ref.run_id, "gate": row.id,
                                            "passed": row.passed, "requirements_version": row.requirements_version,
                                            "target": row.target, "failed": result.failed,
                                            "library": _library_ref(bundle.library)}, actor=actor)
        return result


def gate_history(project: Project, model: str | None = None) -> list[GateOutcome]:
    with project.session() as s:
        q = select(GateResultRow).order_by(GateResultRow.id)
        if model:
            ref = resolve(s, model)
            q = q.where(GateResultRow.model_name == ref.name, GateResultRow.model_version == ref.version)
        return [outcome(r) for r in s.execute(q).scalars()]
