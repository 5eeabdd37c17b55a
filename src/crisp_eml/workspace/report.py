"""Use case: gather everything the project report / model card shows and write it as HTML and PDF."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError
from crisp_eml.lifecycle.evidence import ModelRef, collect, resolve
from crisp_eml.lifecycle.report import render_html, render_pdf
from crisp_eml.store.outputs import make_dirs, remove_dirs
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import DatasetVersionRow, SampleRow
from crisp_eml.store.tables.learn import ModelAliasRow, ModelVersionRow
from crisp_eml.store.tables.lifecycle import GateOverrideRow, GateResultRow
from crisp_eml.workspace.gate import outcome
from crisp_eml.workspace.requirements import current
from crisp_eml.workspace.status import latest_quality, status


def _default_model(s: Session) -> ModelRef | None:
    prod = s.execute(select(ModelAliasRow).where(ModelAliasRow.alias == "production").limit(1)).scalar_one_or_none()
    if prod is not None:
        return resolve(s, f"models:/{prod.name}/{prod.version}")
    latest = s.execute(select(ModelVersionRow).order_by(ModelVersionRow.created_at.desc()).limit(1))
    row = latest.scalar_one_or_none()
    return resolve(s, f"models:/{row.name}/{row.version}") if row else None


def _data_summary(s: Session) -> dict[str, Any]:
    rows = s.execute(select(SampleRow.label, SampleRow.category, SampleRow.length, SampleRow.frequency_hz)
                     .where(SampleRow.enabled.is_(True))).all()
    per: dict[str, Counter[str]] = {}
    seconds = 0.0
    for label, category, length, hz in rows:
        per.setdefault(str(label), Counter())[str(category)] += 1
        if hz:
            seconds += float(length) / float(hz)
    versions = s.execute(select(DatasetVersionRow).order_by(DatasetVersionRow.id)).scalars()
    return {"samples": len(rows), "seconds": round(seconds, 1),
            "per_class": {k: dict(v) for k, v in sorted(per.items())},
            "versions": [{"id": v.id, "message": v.message, "digest": v.digest[:12], "author": v.author,
                          "at": v.created_at.isoformat(timespec="seconds")} for v in versions],
            "quality_score": latest_quality(s)}


def _verified(s: Session, library: str) -> str:
    """The latest ``compiler.verify`` of the library: which checks were byte-identical to TFLite Micro."""
    rows = s.execute(select(AuditRow).where(AuditRow.action == "compiler.verify").order_by(AuditRow.seq.desc()))
    for row in rows.scalars():
        arts = row.artifacts or {}
        if str(arts.get("library")) == library or str(arts.get("library", "")).endswith("/" + library):
            checks = arts.get("checks") or {}
            ok = [k for k, v in checks.items() if v]
            bad = [k for k, v in checks.items() if not v]
            return (f"identical to TFLite Micro: {', '.join(ok) or '-'}"
                    + (f"; DIFFERENT: {', '.join(bad)}" if bad else "") + f" (audit #{row.seq})")
    return "not verified yet (eml verify DIR --host --target cortex-m4)"


def _limitations(data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    gate = data.get("gate")
    if gate is None and data.get("model"):
        out.append("The model has not been through an acceptance gate yet.")
    if gate:
        for r in gate["rows"]:
            if not r["passed"]:
                out.append(f"Requirement {r['requirement']} is not met"
                           + (f" ({r['note']})." if r["note"] else "."))
    for cls, cats in data["data"]["per_class"].items():
        if cats.get("testing", 0) < 10:
            out.append(f"Class '{cls}' has only {cats.get('testing', 0)} test samples: its test figures are "
                       "uncertain.")
    ev = data.get("evidence", {}).get("items", {})
    if "latency_ms" in ev:
        out.append("Latency is an estimate for the target, not a measurement on hardware.")
    if any("not compiled" in str(v.get("source")) for v in ev.values()):
        out.append("Some size figures are estimates from training (TFLite Micro), not from the compiled C library.")
    verified = dict(data.get("lineage") or []).get("verified", "-")
    if data.get("model") and not str(verified).startswith("identical"):
        out.append("The C library has not been verified byte for byte against TFLite Micro.")
    if data.get("overrides"):
        out.append("Promotion used an audited gate override (see Gate results).")
    if data["data"]["samples"] == 0:
        out.append("The project holds no data yet.")
    return out


def gather(project: Project, model: str | None = None) -> dict[str, Any]:
    with project.session() as s:
        reqs = current(s)
        ref = resolve(s, model) if model else _default_model(s)
        data: dict[str, Any] = {
            "project": project.name, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "requirements": reqs.to_dict(), "data": _data_summary(s), "model": None, "gate": None,
            "gates": [], "overrides": [], "evidence": {}, "details": {}, "lineage": [],
        }
        if ref is not None:
            bundle = collect(project, s, ref)
            data["model"] = {"uri": ref.uri, "name": ref.name, "version": ref.version, "run": ref.run_id}
            data["evidence"] = bundle.to_dict()
            data["details"] = bundle.details
            gates = s.execute(select(GateResultRow).where(GateResultRow.model_name == ref.name,
                                                          GateResultRow.model_version == ref.version)
                              .order_by(GateResultRow.id)).scalars()
            data["gates"] = [outcome(g).to_dict() for g in gates]
            data["gate"] = data["gates"][-1] if data["gates"] else None
            data["overrides"] = [
                {"id": o.id, "alias": o.alias, "reason": o.reason, "actor": o.actor, "gate": o.gate_id,
                 "at": o.at.isoformat(timespec="seconds")}
                for o in s.execute(select(GateOverrideRow).where(GateOverrideRow.model_name == ref.name,
                                                                 GateOverrideRow.model_version == ref.version))
                .scalars()]
            if data["gate"]:  # the figures the gate decided on (it may have profiled the library)
                data["evidence"] = {"target": data["gate"]["evidence"].get("target"),
                                    "items": {**data["evidence"]["items"], **data["gate"]["evidence"]["items"]}}
            run = bundle.details.get("run", {})
            lib = bundle.details.get("library") or {}
            lib_name = lib.get("library") or lib.get("name")
            lib_text = " ".join(str(x) for x in (lib_name, lib.get("out"), (lib.get("sources_sha256") or "")[:12])
                                if x) or "-"
            data["lineage"] = [
                ["dataset version", str(run.get("dataset_version") or "-")],
                ["impulse", str(run.get("impulse_hash") or "-")[:12]],
                ["training run", ref.run_id],
                ["model version", ref.uri],
                ["C library", lib_text],
                ["verified", _verified(s, str(lib_name)) if lib_name else "-"],
            ]
    data["phases"] = status(project).to_dict()
    data["limitations"] = _limitations(data)
    return data


def write_report(project: Project, out: Path, *, model: str | None = None, pdf: bool = True) -> dict[str, Any]:
    """Write ``report.html`` (and ``report.pdf``) into ``out``; audited as ``report.write``."""
    out = out if out.is_absolute() else Path.cwd() / out
    created = make_dirs(out, field="output")  # first: a bad path fails before gather() records anything
    try:
        data = gather(project, model)
        html_path = render_html(data, out / "report.html")
        pdf_path = render_pdf(data, out / "report.pdf") if pdf else None
    except OSError as exc:
        remove_dirs(created)
        raise InputError(f"cannot write the report: {exc.strerror or exc}", source=str(out), field="output") from exc
    except BaseException:
        remove_dirs(created)
        raise
    result: dict[str, Any] = {"html": str(html_path), "pdf": str(pdf_path) if pdf_path else None,
                              "model": data["model"]["uri"] if data["model"] else None,
                              "gate_passed": data["gate"]["passed"] if data["gate"] else None}
    with project.session() as s:
        project.record(s, "report.write", {k: v for k, v in result.items() if v is not None})
    return result
