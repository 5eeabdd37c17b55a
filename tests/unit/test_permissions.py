"""Deny by default: for each protected action, a member whose persona lacks the permission is refused
with a clear message and nothing in the project changes (rows, blobs, audit length)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import MANIFEST, add_model
from sqlalchemy import func, select

from conftest import SHARED
from crisp_eml.core.errors import PermissionDeniedError
from crisp_eml.core.personas import Permission, allowed
from crisp_eml.store.project import Project
from crisp_eml.store.tables import Base
from crisp_eml.store.tables.audit import MemberRow

REPO = Path(__file__).resolve().parents[2]
CSV = SHARED / "datasets" / "basic-motions" / "training" / "walking.01.csv"
TFLITE = SHARED / "models" / "mlperf-tiny" / "ad01_int8.tflite"


def _fingerprint(project: Project) -> dict[str, int]:
    with project.session() as s:
        counts = {t.name: int(s.execute(select(func.count()).select_from(t)).scalar() or 0)
                  for t in Base.metadata.sorted_tables}
    counts["blobs"] = len(list(project.blobs))
    return counts


def _set_requirements(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.requirements import set_requirements

    return set_requirements(p, ["min_accuracy=0.5"])


def _ingest(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.ingest import ingest_paths

    return ingest_paths(p, [CSV], label="walking")


def _label(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.rebalance import rebalance

    return rebalance(p, test_fraction=0.5)


def _relabel(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.snapshot import restore_version

    return restore_version(p, 1)  # restoring a version relabels/recategorizes samples


def _snapshot(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.snapshot import snapshot

    return snapshot(p, "not allowed")


def _impulse(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.impulse import create_impulse

    return create_impulse(p)


def _train(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.train import train

    return train(p, epochs=1)


def _gate(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.gate import run_gate

    return run_gate(p, "models:/motion/1")


def _move_alias(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.registry import set_alias

    return set_alias(p, "motion", "staging", 1)


def _override_gate(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.promotion import check_promotion

    with p.session() as s:  # business leaders may approve gates but not move aliases
        return check_promotion(p, s, "motion", 1, "production", "override by someone who may not")


def _compile(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.compile import compile_model

    return compile_model(str(TFLITE), tmp / "lib", project=p, vectors=0)


def _register(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.registry import register_model

    return register_model(p, None, "motion")


def _import_model(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.import_model import import_model

    return import_model(p, TFLITE, "ad01", task="regression")


def _verify(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.verify import verify_library

    return verify_library(tmp / "lib")  # opens the project itself ($EML_PROJECT)


def _label_edit(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.label import label_samples

    return label_samples(p, ["walking.02.csv"], "running")


def _deploy(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.deploy import deploy

    return deploy(p, "models:/motion/1", "cortex-m4f-80mhz", tmp / "lib")


def _profile(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.profile import profile

    return profile(str(TFLITE), "cortex-m4f-80mhz", project=p)


def _members(p: Project, tmp: Path) -> Any:
    from crisp_eml.workspace.members import add_member

    return add_member(p, "mallory", "devops-mlops")


# (action, permission, a persona that lacks it, the use case)
CASES: list[tuple[str, Permission, str, Callable[[Project, Path], Any]]] = [
    ("set requirements", Permission.SET_REQUIREMENTS, "data-scientist", _set_requirements),
    ("ingest", Permission.INGEST_DATA, "business-leader", _ingest),
    ("snapshot", Permission.INGEST_DATA, "embedded-developer", _snapshot),
    ("label edit (train/test split)", Permission.LABEL_DATA, "ml-platform-developer", _label),
    ("label edit (restore a version)", Permission.LABEL_DATA, "ml-platform-developer", _relabel),
    ("design impulse", Permission.DESIGN_IMPULSE, "domain-expert", _impulse),
    ("train", Permission.TRAIN, "business-leader", _train),
    ("approve gate", Permission.APPROVE_GATE, "data-scientist", _gate),
    ("move alias", Permission.MOVE_ALIAS, "business-leader", _move_alias),
    ("gate override", Permission.MOVE_ALIAS, "business-leader", _override_gate),
    ("register model", Permission.TRAIN, "embedded-developer", _register),
    ("import model", Permission.TRAIN, "devops-mlops", _import_model),
    ("compile", Permission.COMPILE, "data-scientist", _compile),
    ("verify library", Permission.COMPILE, "business-leader", _verify),
    ("manage members", Permission.MANAGE_MEMBERS, "devops-mlops", _members),
    ("label edit (eml data label)", Permission.LABEL_DATA, "devops-mlops", _label_edit),
    ("deploy", Permission.DEPLOY, "ml-platform-developer", _deploy),
    ("profile (saved)", Permission.COMPILE, "data-scientist", _profile),
]


@pytest.fixture()
def populated(project: Project) -> Project:
    from crisp_eml.workspace.ingest import ingest_paths
    from crisp_eml.workspace.requirements import set_requirements

    ingest_paths(project, [CSV.parent / "walking.02.csv", CSV.parent / "running.01.csv"],
                 category="training")
    set_requirements(project, ["max_ram=1k"])
    add_model(project, manifest=MANIFEST)
    return project


@pytest.mark.parametrize(("action", "permission", "persona", "use_case"), CASES, ids=[c[0] for c in CASES])
def test_persona_without_permission_is_refused_and_nothing_changes(
    populated: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str, permission: Permission,
    persona: str, use_case: Callable[[Project, Path], Any],
) -> None:
    assert not allowed(persona, permission)
    with populated.session() as s:
        s.add(MemberRow(name="mallory", persona=persona, owner=False))
    monkeypatch.setenv("EML_MEMBER", "mallory")
    monkeypatch.setenv("EML_PROJECT", str(populated.root))
    before = _fingerprint(populated)
    with pytest.raises(PermissionDeniedError) as exc:
        use_case(populated, tmp_path)
    msg = str(exc.value)
    assert "mallory" in msg and persona in msg and permission.value.replace("-", " ") in msg
    assert _fingerprint(populated) == before
    assert not (tmp_path / "lib").exists()
