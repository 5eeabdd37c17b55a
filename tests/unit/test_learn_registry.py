"""Model registry: versions, aliases with history, models:/ URIs, lineage, permissions (no training)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from crisp_eml.core.errors import InputError, NotFoundError, PermissionDeniedError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow, MemberRow
from crisp_eml.store.tables.data import DatasetVersionItemRow, DatasetVersionRow
from crisp_eml.store.tables.learn import RunRow
from crisp_eml.workspace.registry import alias_history, lineage, parse_uri, register_model, resolve_model, set_alias
from crisp_eml.workspace.runs import compare_runs, list_runs, show_run


def _run(p: Project, acc: float, dataset_version: int | None = None) -> str:
    rid = uuid.uuid4().hex[:16]
    blob = p.blobs.put(rid.encode())
    with p.session() as s:
        s.add(RunRow(id=rid, status="finished", learning_type="nn-classifier", params={"epochs": int(acc * 100),
                     "labels": ["a", "b"]}, impulse_hash="f" * 64, impulse_spec={"learning": None},
                     dataset_version_id=dataset_version,
                     metrics={"test": {"int8": {"accuracy": acc}, "float32": {"accuracy": acc + 0.01}}},
                     artifacts={"model_int8.tflite": blob}, seed=1, author="tester"))
    return rid


def test_register_alias_history_and_resolve(project: Project) -> None:
    r1, r2 = _run(project, 0.9), _run(project, 0.95)
    v1 = register_model(project, r1, "motion", "first")
    v2 = register_model(project, r2, "motion")
    assert (v1.version, v2.version) == (1, 2)
    set_alias(project, "motion", "staging", 1, note="initial release")
    set_alias(project, "motion", "staging", 2)
    got = resolve_model(project, "models:/motion@staging")
    assert got.version == 2 and got.run_id == r2
    assert got.artifacts["model_int8.tflite"] == show_run(project, r2)["artifacts"]["model_int8.tflite"]
    assert resolve_model(project, "models:/motion/1").run_id == r1
    assert resolve_model(project, "motion").version == 2  # bare name = latest
    hist = alias_history(project, "motion", "staging")
    assert [(h["from_version"], h["to_version"]) for h in hist] == [(None, 1), (1, 2)]
    assert hist[0]["actor"] == "tester" and hist[0]["note"] == "initial release" and hist[0]["at"]
    actions = [a.action for a in project.audit_entries()]
    assert actions.count("model.alias") == 2 and actions.count("model.register") == 2


def test_uri_errors(project: Project) -> None:
    register_model(project, _run(project, 0.9), "m")
    assert parse_uri("models:/m@staging") == ("m", "staging", None)
    assert parse_uri("models:/m/3") == ("m", None, 3)
    with pytest.raises(InputError):
        parse_uri("models:/bad name")
    with pytest.raises(NotFoundError, match="no alias 'staging'"):
        resolve_model(project, "models:/m@staging")
    with pytest.raises(NotFoundError, match="no version 7"):
        resolve_model(project, "models:/m/7")
    with pytest.raises(NotFoundError, match="no model named"):
        resolve_model(project, "models:/other/1")
    with pytest.raises(NotFoundError):
        set_alias(project, "m", "staging", 9)
    with pytest.raises(NotFoundError):
        register_model(project, "nope", "m")


def test_lineage_reaches_samples(project: Project) -> None:
    with project.session() as s:
        dv = DatasetVersionRow(message="v1", digest="d" * 64, layer="raw", author="tester")
        s.add(dv)
        s.flush()
        s.add(DatasetVersionItemRow(version_id=dv.id, sample_id="s1", hash="1" * 64, name="walk.1", label="walk",
                                    category="training"))
        dv_id = dv.id
    register_model(project, _run(project, 0.9, dataset_version=dv_id), "m")
    lin = lineage(project, "models:/m/1")
    assert lin["dataset_version"]["id"] == dv_id and lin["impulse"]["hash"] == "f" * 64
    assert [x["name"] for x in lin["samples"]] == ["walk.1"]


def test_alias_move_needs_permission(project: Project) -> None:
    register_model(project, _run(project, 0.9), "m")
    with project.session() as s:
        s.add(MemberRow(name="ds", persona="data-scientist", owner=False))
    import os

    os.environ["EML_MEMBER"] = "ds"
    try:
        before = len(project.audit_entries())
        with pytest.raises(PermissionDeniedError):
            set_alias(project, "m", "production", 1)
        assert len(project.audit_entries()) == before
        register_model(project, _run(project, 0.8), "m")  # data scientists may train/register
    finally:
        del os.environ["EML_MEMBER"]
    with project.session() as s:
        assert s.execute(select(AuditRow).where(AuditRow.actor == "ds")).first() is not None


def test_runs_list_and_compare(project: Project) -> None:
    a, b = _run(project, 0.9), _run(project, 0.95)
    assert {r["id"] for r in list_runs(project)} == {a, b}
    cmp = compare_runs(project, [a, b[:8]])
    assert "int8.accuracy" in cmp["differs"] and "params.epochs" in cmp["differs"]
    assert "impulse_hash" not in cmp["differs"]
    with pytest.raises(InputError):
        compare_runs(project, [a])
