"""Use case: the promotion rule. ``production`` may only point at a version whose latest gate passed,
unless an explicit override is recorded (needs APPROVE_GATE and MOVE_ALIAS, audited as ``gate.override``).

The registry's ``set_alias`` calls :func:`check_promotion` inside its own transaction, so the alias move,
the override record and both audit entries commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError, VerificationError
from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project
from crisp_eml.store.tables.lifecycle import GateOverrideRow, GateResultRow
from crisp_eml.workspace.gate import latest_gate

GATED_ALIASES = ("production",)


def gate_refusal(session: Session, name: str, version: int,
                 target: str | None = None) -> tuple[GateResultRow | None, str | None]:
    """The rule production promotion and deployment share: the latest gate (for ``target`` when given) of
    ``name/version`` must have passed. Returns that gate and, when it did not pass, why not."""
    gate = latest_gate(session, name, version, target)
    if gate is not None and gate.passed:
        return gate, None
    on = f" for target {target}" if target else ""
    if gate is None:
        tgt = f" --target {target}" if target else ""
        return None, f"it has never been gated{on} (run 'eml gate models:/{name}/{version}{tgt}')"
    failed = ", ".join(r["requirement"] for r in gate.rows if not r["passed"])
    return gate, f"its latest gate{on} (#{gate.id}) failed on {failed}"


def check_promotion(project: Project, session: Session, name: str, version: int, alias: str,
                    override_reason: str | None = None) -> dict[str, Any] | None:
    """Raise :class:`VerificationError` unless ``alias`` may point at ``name/version``.

    Returns the override record (as a dict) when one was needed and written, else None.
    """
    if alias not in GATED_ALIASES:
        return None
    gate, why = gate_refusal(session, name, version)
    if why is None:
        return None
    if override_reason is None:
        raise VerificationError(f"refusing to move '{alias}' to {name}/{version}: {why}; "
                                "an audited override needs --override-reason TEXT")
    if not override_reason.strip():
        raise InputError("an override needs a non-empty reason", field="override-reason")
    project.require(Permission.APPROVE_GATE)
    actor = project.require(Permission.MOVE_ALIAS)
    row = GateOverrideRow(model_name=name, model_version=version, alias=alias, gate_id=gate.id if gate else None,
                          reason=override_reason.strip(), actor=actor.name)
    session.add(row)
    session.flush()
    record = {"override": row.id, "model": f"models:/{name}/{version}", "alias": alias,
              "gate": row.gate_id, "reason": row.reason}
    project.record(session, "gate.override", record, note=row.reason, actor=actor)
    return record
