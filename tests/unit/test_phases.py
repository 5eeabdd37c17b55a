"""The phases board: states follow from artifacts and gates, feedback loops open on failures."""

from __future__ import annotations

from lifecycle_helpers import LABELS, MANIFEST, add_model, add_samples

from crisp_eml.core.lifecycle import BLOCKED, DONE, IN_PROGRESS, NOT_STARTED, PHASE_KEYS, Facts, board
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import DatasetVersionRow
from crisp_eml.workspace.gate import run_gate
from crisp_eml.workspace.requirements import set_requirements
from crisp_eml.workspace.status import status


def _states(f: Facts) -> dict[str, str]:
    phases, _ = board(f)
    assert [p.key for p in phases] == list(PHASE_KEYS)
    return {p.key: p.state for p in phases}


def test_empty_project_has_nothing_started() -> None:
    assert set(_states(Facts()).values()) == {NOT_STARTED}


def test_failing_model_gate_sends_work_back_to_model_development() -> None:
    f = Facts(kpi_count=3, target="m4", samples=10, dataset_versions=1, runs=1, model_versions=1, compiled=1,
              gate_model="models:/m/1", gate_passed=False, gate_failed_rows=("max_ram_bytes",),
              gate_failed_phases=("model-development",))
    phases, loops = board(f)
    st = {p.key: p for p in phases}
    assert st["model-development"].state == IN_PROGRESS and "max_ram_bytes" in st["model-development"].why
    assert st["model-development"].feedback_from == ["development-testing"]
    assert st["development-testing"].state == BLOCKED and st["deployment"].state == BLOCKED
    assert st["data-acquisition"].state == DONE
    assert [(lp.source, lp.to) for lp in loops] == [("development-testing", "model-development")]


def test_failing_data_requirement_sends_work_back_to_data_acquisition() -> None:
    f = Facts(kpi_count=1, target="m4", samples=10, dataset_versions=1, model_versions=1, gate_model="models:/m/1",
              gate_passed=False, gate_failed_rows=("min_quality_score",), gate_failed_phases=("data-acquisition",))
    phases, loops = board(f)
    st = {p.key: p.state for p in phases}
    assert st["data-acquisition"] == IN_PROGRESS and st["model-development"] == DONE
    assert [lp.to for lp in loops] == ["data-acquisition"]


def test_passing_gate_and_production_alias_complete_the_board() -> None:
    f = Facts(kpi_count=1, target="m4", samples=10, dataset_versions=1, model_versions=1, compiled=1,
              gate_model="models:/m/1", gate_passed=True, production="models:/m/1", production_gated=True)
    assert set(_states(f).values()) == {DONE}


def test_board_from_a_project(project: Project) -> None:
    set_requirements(project, ["target=cortex-m4f-80mhz", "max_ram=1k"])
    add_samples(project, dict.fromkeys(LABELS, 4))
    with project.session() as s:
        s.add(DatasetVersionRow(message="v1", digest="0" * 64, author="tester"))
    uri = add_model(project, manifest=MANIFEST)
    run_gate(project, uri)
    b = status(project).to_dict()
    st = {p["key"]: p["state"] for p in b["phases"]}
    assert st["business-understanding"] == DONE and st["data-acquisition"] == DONE
    assert st["model-development"] == IN_PROGRESS and st["development-testing"] == BLOCKED
    assert b["feedback"][0]["to"] == "model-development" and b["focus"] == "model-development"
