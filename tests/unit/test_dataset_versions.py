"""Dataset versions (snapshot, ensure, diff, restore) and rebalance, on samples added directly."""

from __future__ import annotations

from collections import defaultdict

import pytest
from data_helpers import small_dataset
from sqlalchemy import select

from crisp_eml.core.errors import InputError, NotFoundError, PermissionDeniedError
from crisp_eml.data.samples import list_samples
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import MemberRow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.rebalance import rebalance
from crisp_eml.workspace.snapshot import (
    diff_versions,
    ensure_version,
    list_versions,
    restore_version,
    show_version,
    snapshot,
)


def _state(project: Project) -> dict[str, tuple[str | None, str, bool]]:
    with project.session() as s:
        return {r.id: (r.label, r.category, r.enabled) for r in s.execute(select(SampleRow)).scalars()}


def _edit(project: Project, sample_id: str, **values: object) -> None:
    with project.session() as s:
        row = s.get(SampleRow, sample_id)
        assert row is not None
        for k, v in values.items():
            setattr(row, k, v)


def test_snapshot_diff_restore_roundtrip(project: Project) -> None:
    samples = small_dataset(project)
    v1 = snapshot(project, "initial")
    assert v1.id == 1 and v1.n_samples == 10 and v1.labels == {"a": 5, "b": 5}
    before = _state(project)
    _edit(project, samples[0].id, label="b")
    _edit(project, samples[1].id, category="testing")
    _edit(project, samples[2].id, enabled=False)
    v2 = snapshot(project, "edited")
    assert v2.digest != v1.digest
    d = diff_versions(project, 1, 2)
    assert [e["sample_id"] for e in d["relabeled"]] == [samples[0].id]
    assert d["relabeled"][0]["from"] == "a" and d["relabeled"][0]["to"] == "b"
    assert [e["sample_id"] for e in d["recategorized"]] == [samples[1].id]
    assert [e["sample_id"] for e in d["removed"]] == [samples[2].id] and d["added"] == []
    back = diff_versions(project, 2, 1)
    assert [e["sample_id"] for e in back["added"]] == [samples[2].id]

    r = restore_version(project, 1)
    assert r == {"version": 1, "layer": "raw", "digest": v1.digest, "enabled": 1, "disabled": 0,
                 "relabeled": 1, "recategorized": 1}
    assert _state(project) == before
    v3 = ensure_version(project)  # only the *latest* version is reused, and that is 2
    assert v3 == 3 and show_version(project, 3)[0].digest == v1.digest
    actions = [a.action for a in project.audit_entries()]
    assert actions.count("dataset.snapshot") == 3 and actions.count("dataset.restore") == 1


def test_ensure_version_reuses_the_latest_matching_version(project: Project) -> None:
    samples = small_dataset(project)
    first = ensure_version(project, "run 1")
    assert ensure_version(project, "run 2") == first
    _edit(project, samples[3].id, label="a")
    second = ensure_version(project, "run 3")
    assert second == first + 1
    assert [v.message for v in list_versions(project)] == ["run 1", "run 3"]
    info, items = show_version(project, second)
    assert info.n_samples == len(items) == 10
    assert {i["sample_id"]: i["label"] for i in items}[samples[3].id] == "a"


def test_restore_refuses_when_a_sample_or_blob_is_gone(project: Project) -> None:
    samples = small_dataset(project)
    snapshot(project, "v1")
    _edit(project, samples[0].id, label="b")
    with project.session() as s:
        row = s.get(SampleRow, samples[1].id)
        s.delete(row)
    state = _state(project)
    with pytest.raises(NotFoundError, match="no longer exist"):
        restore_version(project, 1)
    assert _state(project) == state  # nothing changed

    v2 = snapshot(project, "without the removed sample")
    project.blobs.delete(list_samples(project)[0].hash)
    with pytest.raises(NotFoundError, match=r"0 sample\(s\) no longer exist and 1 blob\(s\) are gone"):
        restore_version(project, v2.id)
    with pytest.raises(NotFoundError, match="no dataset version 7"):
        show_version(project, 7)


def test_snapshot_needs_samples_message_and_permission(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="no enabled samples"):
        snapshot(project, "empty")
    small_dataset(project)
    with pytest.raises(InputError, match="message"):
        snapshot(project, "  ")
    with pytest.raises(InputError, match="layer"):
        snapshot(project, "x", layer="gold")
    with project.session() as s:
        s.add(MemberRow(name="eve", persona="end-user", owner=False))
        s.add(MemberRow(name="tom", persona="ml-platform-developer", owner=False))
    monkeypatch.setenv("EML_MEMBER", "eve")
    with pytest.raises(PermissionDeniedError):
        snapshot(project, "nope")
    with pytest.raises(PermissionDeniedError):
        ensure_version(project)
    monkeypatch.setenv("EML_MEMBER", "tom")  # may train, so ensure_version records the version
    assert ensure_version(project) == 1


def test_rebalance_moves_and_audits(project: Project) -> None:
    samples = small_dataset(project, per_label=10)
    r = rebalance(project, test_fraction=0.5, stratify=True)
    cats = {s.id: s.category for s in list_samples(project)}
    assert sum(c == "testing" for c in cats.values()) == 10
    for m in r.moves:
        assert cats[m["id"]] == m["to"] != m["from"]
    assert r.counts == {"testing": 10, "training": 10}
    again = rebalance(project, test_fraction=0.5, stratify=True)
    assert again.moves == []  # deterministic: nothing left to move
    entry = [a for a in project.audit_entries() if a.action == "dataset.rebalance"][0]
    assert sorted(entry.artifacts["moved"]) == sorted(m["id"] for m in r.moves)

    kt = rebalance(project, test_fraction=0.3, keep_together="subject")
    sides: dict[str, set[str]] = defaultdict(set)
    for s in list_samples(project):
        sides[s.metadata["subject"]].add(s.category)
    assert all(len(v) == 1 for v in sides.values()) and kt.missing_key == 0
    assert len(samples) == 20
    with pytest.raises(InputError, match="keep-together"):
        rebalance(project, keep_together="nosuchkey")
    with pytest.raises(InputError, match="test-fraction"):
        rebalance(project, test_fraction=1.5)
