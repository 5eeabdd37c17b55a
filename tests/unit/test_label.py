"""Label edits: several samples in one audited transaction; unknown samples change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import BASIC_MOTIONS
from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.data.samples import get_sample
from crisp_eml.store.project import Project

MOTIONS = BASIC_MOTIONS / "training"


@pytest.fixture()
def ingested(project: Project) -> tuple[Project, list[Any]]:
    from crisp_eml.workspace.ingest import ingest_paths

    ingest_paths(project, [MOTIONS / "walking.01.csv", MOTIONS / "running.01.csv", MOTIONS / "standing.01.csv"],
                 category="training")
    from crisp_eml.data.samples import list_samples

    return project, sorted(list_samples(project), key=lambda s: s.name)


def _audit(project: Project, action: str) -> list[Any]:
    return [e for e in project.audit_entries() if e.action == action]


def test_relabel_several_samples_by_id_and_name_in_one_audit_entry(ingested: tuple[Project, list[Any]]) -> None:
    from crisp_eml.workspace.label import label_samples

    project, samples = ingested
    running, standing, walking = samples
    r = label_samples(project, [running.id, walking.name], "moving")
    assert {c["sample"] for c in r.changes} == {running.id, walking.id}
    assert get_sample(project, running.id).label == "moving" and get_sample(project, walking.id).label == "moving"
    assert get_sample(project, standing.id).label == "standing"
    entries = _audit(project, "sample.label")
    assert len(entries) == 1
    olds = {c["sample"]: c["label"]["old"] for c in entries[0].artifacts["samples"]}
    assert olds == {running.id: "running", walking.id: "walking"}


def test_category_move_and_no_op(ingested: tuple[Project, list[Any]]) -> None:
    from crisp_eml.workspace.label import label_samples

    project, samples = ingested
    r = label_samples(project, [samples[0].id], category="testing")
    assert r.changes[0]["category"] == {"old": "training", "new": "testing"} and "label" not in r.changes[0]
    assert get_sample(project, samples[0].id).category == "testing"
    again = label_samples(project, [samples[0].id], samples[0].label, category="testing")
    assert again.changes == [] and again.unchanged == [samples[0].id]
    assert len(_audit(project, "sample.label")) == 1  # a no-op records nothing


def test_unknown_sample_changes_nothing(ingested: tuple[Project, list[Any]]) -> None:
    from crisp_eml.workspace.label import label_samples

    project, samples = ingested
    before = len(project.audit_entries())
    with pytest.raises(NotFoundError, match="no-such-sample"):
        label_samples(project, [samples[0].id, "no-such-sample"], "moving")
    assert get_sample(project, samples[0].id).label == samples[0].label
    assert len(project.audit_entries()) == before
    with pytest.raises(InputError):
        label_samples(project, [samples[0].id], "  ")
    with pytest.raises(InputError):
        label_samples(project, [samples[0].id], category="validation")


def test_cli_label(ingested: tuple[Project, list[Any]], run_cli: Any) -> None:
    import json

    project, samples = ingested
    code, out, err = run_cli(["data", "label", samples[0].id, samples[1].id, "other", "--json"], cwd=project.root)
    assert code == 0, err
    assert json.loads(out)["changed"] == 2
    code, out, err = run_cli(["data", "label", samples[2].id, "--category", "testing", "--json"], cwd=project.root)
    assert code == 0, err
    assert json.loads(out)["changes"][0]["category"]["new"] == "testing"
    assert get_sample(project, samples[2].id).label == samples[2].label
    code, out, err = run_cli(["data", "label", "nope", "other"], cwd=project.root)
    assert code != 0 and "nope" in err and "Traceback" not in err
