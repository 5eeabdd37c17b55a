"""Acceptance gates: rows from evidence, missing evidence fails, results stored, promotion rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lifecycle_helpers import CM, LABELS, MANIFEST, add_model, add_samples

from crisp_eml.core.errors import InputError, PermissionDeniedError, VerificationError
from crisp_eml.core.gates import Evidence, classification_evidence, evaluate
from crisp_eml.core.requirements import RequirementSet
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import MemberRow
from crisp_eml.store.tables.learn import ModelVersionRow, RunRow
from crisp_eml.workspace.gate import gate_history, run_gate
from crisp_eml.workspace.promotion import check_promotion
from crisp_eml.workspace.requirements import set_requirements


def test_classification_evidence_from_confusion() -> None:
    ev = classification_evidence(LABELS, CM, "test")
    assert ev["accuracy"].value == pytest.approx(37 / 40)
    # walking: tp 8, fn 2, fp 0 -> f1 = 16/18
    assert ev["f1.walking"].value == pytest.approx(16 / 18)
    # standing: tp 10, fp 2 -> false positive rate 2/30; mean over classes of fp/(fp+tn)
    fprs = [0 / 30, 1 / 30, 2 / 30, 0 / 30]
    assert ev["far"].value == pytest.approx(sum(fprs) / 4)
    assert ev["frr"].value == pytest.approx((0.1 + 0 + 0 + 0.2) / 4)


def test_rows_compare_in_the_right_direction_and_missing_evidence_fails() -> None:
    reqs = RequirementSet(1, "m4", {"min_accuracy": 0.9, "max_ram_bytes": 1000, "max_latency_ms": 5.0})
    ev = {"accuracy": Evidence("accuracy", 0.95, "run"), "ram_bytes": Evidence("ram_bytes", 1200, "manifest")}
    rows = {r.requirement: r for r in evaluate(reqs, ev)}
    assert rows["min_accuracy"].passed and not rows["max_ram_bytes"].passed
    assert rows["max_ram_bytes"].measured == 1200 and rows["max_ram_bytes"].source == "manifest"
    assert not rows["max_latency_ms"].passed and rows["max_latency_ms"].note.startswith("no evidence: ")
    assert not any(r.passed for r in evaluate(RequirementSet(), ev))  # no requirements -> fail


def test_gate_pass_then_fail_is_stored_and_audited(project: Project) -> None:
    add_samples(project, dict.fromkeys(LABELS, 8))
    uri = add_model(project, manifest=MANIFEST)
    set_requirements(project, ["target=cortex-m4f-80mhz", "min_accuracy=0.9", "min_f1.walking=0.8",
                               "max_ram=64k", "max_flash=64k", "max_latency_ms=10", "min_quality=80",
                               "min_samples_per_class=8", "max_far=0.1", "max_frr=0.1"])
    g = run_gate(project, uri)
    assert g.passed, g.rows
    rows = {r["requirement"]: r for r in g.rows}
    assert rows["max_ram_bytes"]["measured"] == 14000
    assert rows["max_flash_bytes"]["measured"] == 29000  # weights + code
    assert rows["max_latency_ms"]["measured"] == 4.0 and "profile" in rows["max_latency_ms"]["source"]
    set_requirements(project, ["max_ram=8k"], "tighter RAM")
    g2 = run_gate(project, uri)
    assert not g2.passed and g2.failed == ["max_ram_bytes"]
    assert [x.passed for x in gate_history(project, uri)] == [True, False]
    assert [e.action for e in project.audit_entries()].count("gate.evaluate") == 2


def test_missing_compile_evidence_fails_with_hint(project: Project) -> None:
    uri = add_model(project, manifest=None, latency_ms=None)
    set_requirements(project, ["max_ram=64k", "max_latency_ms=5"])
    g = run_gate(project, uri)
    notes = {r["requirement"]: r["note"] for r in g.rows}
    assert "eml compile" in notes["max_ram_bytes"] and "eml profile" in notes["max_latency_ms"]


def test_target_mismatch_fails(project: Project) -> None:
    uri = add_model(project, manifest=MANIFEST, target="cortex-m0-48mhz")
    set_requirements(project, ["target=cortex-m4f-80mhz", "max_ram=64k"])
    g = run_gate(project, uri)
    assert not g.passed and g.failed == ["target"]


def test_promotion_needs_a_passing_gate_or_an_audited_override(project: Project,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    uri = add_model(project, manifest=MANIFEST)
    set_requirements(project, ["max_ram=1k"])
    with project.session() as s, pytest.raises(VerificationError, match="never been gated"):
        check_promotion(project, s, "motion", 1, "production")
    run_gate(project, uri)
    with project.session() as s:
        assert check_promotion(project, s, "motion", 1, "staging") is None  # only production is gated
        with pytest.raises(VerificationError, match="failed on max_ram_bytes"):
            check_promotion(project, s, "motion", 1, "production")
    with project.session() as s:
        s.add(MemberRow(name="eve", persona="business-leader", owner=False))  # approve-gate, no move-alias
    monkeypatch.setenv("EML_MEMBER", "eve")
    n = len(project.audit_entries())
    with project.session() as s, pytest.raises(PermissionDeniedError, match="move alias"):
        check_promotion(project, s, "motion", 1, "production", "ship it")
    assert len(project.audit_entries()) == n
    monkeypatch.delenv("EML_MEMBER")
    with project.session() as s:
        rec = check_promotion(project, s, "motion", 1, "production", "customer demo, RAM fix in v2")
    assert rec is not None and rec["reason"].startswith("customer demo")
    assert project.audit_entries()[-1].action == "gate.override"
    set_requirements(project, ["max_ram=64k"])
    run_gate(project, uri)
    with project.session() as s:
        assert check_promotion(project, s, "motion", 1, "production") is None


def test_registry_production_alias_obeys_the_gate(project: Project, tmp_path: Path) -> None:
    from crisp_eml.workspace.registry import alias_history, set_alias

    uri = add_model(project, manifest=MANIFEST)
    set_requirements(project, ["max_ram=1k"])
    set_alias(project, "motion", "staging", 1)  # other aliases are not gated
    with pytest.raises(VerificationError, match="never been gated"):
        set_alias(project, "motion", "production", 1)
    run_gate(project, uri)
    n = len(project.audit_entries())
    with pytest.raises(VerificationError, match="override-reason"):
        set_alias(project, "motion", "production", 1)
    assert len(project.audit_entries()) == n
    set_alias(project, "motion", "production", 1, override_reason="pilot only")
    assert [a["alias"] for a in alias_history(project, "motion")] == ["staging", "production"]
    assert [e.action for e in project.audit_entries()[-2:]] == ["gate.override", "model.alias"]


def test_library_folder_must_match_the_model(project: Project, tmp_path: Path) -> None:
    uri = add_model(project, manifest=None)
    with project.session() as s:
        run = s.get(RunRow, s.get(ModelVersionRow, ("motion", 1)).run_id)  # type: ignore[union-attr]
        run.artifacts = {"model_int8.tflite": "a" * 64}  # type: ignore[union-attr]
    set_requirements(project, ["max_ram=64k", "max_flash=64k"])
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "MANIFEST.json").write_text(json.dumps({**MANIFEST, "model_sha256": "b" * 64}))
    with pytest.raises(InputError, match="compiled from model sha256 bbbbbbbbbbbb"):
        run_gate(project, uri, library=lib)
    (lib / "MANIFEST.json").write_text(json.dumps({**MANIFEST, "model_sha256": "a" * 64}))
    # the right model, but a hand-written manifest: its figures cannot be re-derived from the model (whose bytes
    # are not even in the blob store here), so the gate refuses them (tests/unit/test_gate_library_evidence.py)
    with pytest.raises(VerificationError, match="missing from the blob store"):
        run_gate(project, uri, library=lib)
    with pytest.raises(InputError, match="no MANIFEST.json"):
        run_gate(project, uri, library=tmp_path)
