"""Ingestion use case: labels, categories, duplicates, failures leave nothing behind, audit entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from crisp_eml.core.errors import InputError, PermissionDeniedError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.samples import list_samples, load_array
from crisp_eml.data.splits import assign_category
from crisp_eml.store.blobs import sha256
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow, MemberRow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.ingest import ingest_paths

S3 = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))


def csv_file(path: Path, seed: int, hz: float = 62.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_csv(np.random.default_rng(seed).normal(size=(20, 3)).astype(np.float32), S3, hz))
    return path


def counts(project: Project) -> tuple[int, int, int]:
    with project.session() as s:
        rows = s.scalar(select(func.count()).select_from(SampleRow))
        audits = s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "sample.ingest"))
    return int(rows or 0), int(audits or 0), len(list(project.blobs))


def test_folder_walk_labels_categories_and_audit(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "data"
    csv_file(root / "training" / "idle.01.csv", 1)
    csv_file(root / "testing" / "wave" / "rec.csv", 2)
    csv_file(root / "misc" / "circle.x.csv", 3)
    (root / "notes.txt").write_text("ignored: unknown extension inside a folder")
    report = ingest_paths(project, [root])
    assert report.ok, report.failures
    got = {(s.label, s.category) for s in report.samples}
    circle = next(s for s in report.samples if s.label == "circle")
    assert got == {("idle", "training"), ("wave", "testing"), ("circle", assign_category(circle.hash))}
    for s in report.samples:
        raw = next(root.rglob(f"{s.name}.csv")).read_bytes()
        assert s.source_hash == sha256(raw)
        assert project.blobs.verify(s.hash) and load_array(project, s).shape == (20, 3)
        assert s.frequency_hz == 62.5 and s.sensors == S3
    assert counts(project) == (3, 3, 3)


def test_explicit_options_override(project: Project, tmp_path: Path) -> None:
    f = csv_file(tmp_path / "training" / "idle.01.csv", 1)
    r = ingest_paths(project, [f], label="walk", category="testing", metadata={"subject": "s1"})
    (s,) = r.samples
    assert (s.label, s.category, s.metadata["subject"]) == ("walk", "testing", "s1")
    with pytest.raises(InputError, match="category"):
        ingest_paths(project, [f], category="validation")


def test_split_category_is_deterministic(project: Project, tmp_path: Path) -> None:
    files = [csv_file(tmp_path / "training" / f"a.{i}.csv", i) for i in range(30)]
    r = ingest_paths(project, files, category="split")
    cats = [s.category for s in r.samples]
    assert cats == [assign_category(s.hash) for s in r.samples]
    assert {"training", "testing"} == set(cats)


def test_duplicates_refused_unless_allowed(project: Project, tmp_path: Path) -> None:
    a = csv_file(tmp_path / "idle.01.csv", 7)
    b = tmp_path / "other" / "idle.02.csv"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes().replace(b"timestamp,", b"timestamp ,"))  # same signal, other bytes
    assert ingest_paths(project, [a]).ok
    r = ingest_paths(project, [b])
    assert [f.error for f in r.failures] == ["ConflictError"] and "duplicate" in r.failures[0].reason
    assert counts(project) == (1, 1, 1)
    r = ingest_paths(project, [b], allow_duplicates=True)
    assert r.ok and counts(project) == (2, 2, 1)


def test_bad_files_leave_no_rows_or_blobs_and_batch_continues(project: Project, tmp_path: Path) -> None:
    good = [csv_file(tmp_path / f"idle.{i}.csv", i) for i in range(3)]
    bad = tmp_path / "idle.bad.csv"
    bad.write_bytes(b"timestamp,a\n0,1\n10,oops\n")
    hmac_bad = tmp_path / "idle.h.json"
    hmac_bad.write_bytes(b'{"protected": {"ver": "v1", "alg": "none"}, "signature": "", "payload": {}}')
    r = ingest_paths(project, [good[0], bad, good[1], hmac_bad, tmp_path / "missing.csv", good[2]], hmac_key="k")
    assert len(r.samples) == 3
    reasons = {Path(f.path).name: f.reason for f in r.failures}
    assert "text 'oops'" in reasons["idle.bad.csv"] and "idle.bad.csv" in reasons["idle.bad.csv"]
    assert "unsigned" in reasons["idle.h.json"]
    assert "no such file" in reasons["missing.csv"]
    assert counts(project) == (3, 3, 3)


def test_ingest_needs_permission(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with project.session() as s:
        s.add(MemberRow(name="eve", persona="embedded-developer", owner=False))
    monkeypatch.setenv("EML_MEMBER", "eve")
    with pytest.raises(PermissionDeniedError):
        ingest_paths(project, [csv_file(tmp_path / "a.1.csv", 1)])
    monkeypatch.delenv("EML_MEMBER")
    assert counts(project) == (0, 0, 0)


def test_mixed_formats(project: Project, tmp_path: Path) -> None:
    from PIL import Image

    from crisp_eml.data.formats.wav import write_wav

    (tmp_path / "yes.1.wav").write_bytes(write_wav(np.zeros((160, 1), np.float32) + 0.5, 16000))
    Image.fromarray(np.full((4, 6, 3), 9, np.uint8)).save(tmp_path / "cat.1.png")
    r = ingest_paths(project, [tmp_path])
    assert r.ok
    kinds = {s.label: (s.kind, s.shape, s.frequency_hz) for s in list_samples(project)}
    assert kinds == {"yes": ("audio", (160, 1), 16000.0), "cat": ("image", (4, 6, 3), None)}


def test_unexpected_error_in_a_batch_keeps_the_other_files(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crisp_eml.workspace.ingest as ingest_mod

    files = [csv_file(tmp_path / f"idle.{i}.csv", i) for i in range(5)]
    real = ingest_mod.add_sample

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs["name"] == "idle.3":
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_mod, "add_sample", flaky)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)  # all five files in one transaction
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths(project, files)
    names = sorted(s.name for s in list_samples(project))
    assert names == ["idle.0", "idle.1", "idle.2", "idle.4"]  # batch rolled back, retried file by file
    assert counts(project) == (4, 4, 4)  # the failed file's blob was removed too


# -- options, reports and audit (mutation-tested: scripts/mutation.py ingest) --------------------------------

def test_report_as_json_names_every_outcome(project: Project, tmp_path: Path) -> None:
    a = csv_file(tmp_path / "idle.1.csv", 1)
    assert ingest_paths(project, [a]).ok
    copy = tmp_path / "copy" / "idle.2.csv"
    copy.parent.mkdir()
    copy.write_bytes(a.read_bytes())
    new = csv_file(tmp_path / "wave.3.csv", 3)
    r = ingest_paths(project, [copy, new, tmp_path / "gone.csv"], skip_duplicates=True)
    (s,) = r.samples
    (skipped,) = r.skipped
    assert not r.ok and skipped.error == "ConflictError" and "duplicate of sample" in skipped.reason
    assert r.to_dict() == {
        "ingested": 1, "failed": 1, "skipped_duplicates": 1,
        "samples": [{"id": s.id, "name": "wave.3", "label": "wave", "category": s.category, "kind": "timeseries",
                     "hash": s.hash, "source": str(new.resolve())}],
        "failures": [{"path": str(tmp_path / "gone.csv"), "reason": f"{tmp_path / 'gone.csv'}: no such file or folder",
                      "error": "NotFoundError"}],
        "skipped": [{"path": str(copy), "reason": skipped.reason, "error": "ConflictError"}],
    }
    assert ingest_paths(project, [copy]).to_dict()["failures"][0]["error"] == "ConflictError"  # not skipping


def test_folder_walk_skips_hidden_and_unknown_files_and_labels_below_the_root(
        project: Project, tmp_path: Path) -> None:
    root = tmp_path / "walked"
    csv_file(root / ".git" / "idle.1.csv", 1)
    csv_file(root / ".idle.2.csv", 2)
    (root / "a-notes.txt").write_text("unknown extension, sorted before the data file")
    csv_file(root / "rec.csv", 3)  # no label in the name: the label comes from folders *below* the root, or the stem
    csv_file(root / "sub" / "rec.csv", 4)
    r = ingest_paths(project, [root])
    assert r.ok and sorted((s.label, s.source) for s in r.samples) == [
        ("rec", str((root / "rec.csv").resolve())), ("sub", str((root / "sub" / "rec.csv").resolve()))]


def test_category_options(project: Project, tmp_path: Path) -> None:
    """A forced category wins over the split; the split follows ``test_fraction``; an explicitly named file
    takes its folder's category."""
    def ingest(name: str, seed: int, **kw: object) -> str:
        (s,) = ingest_paths(project, [csv_file(tmp_path / name, seed)], **kw).samples  # type: ignore[arg-type]
        return s.category

    assert ingest("testing.1.csv", 1, category="testing", test_fraction=0.0) == "testing"
    assert ingest("training.2.csv", 2, category="training", test_fraction=1.0) == "training"
    assert ingest("split.3.csv", 3, category="split", test_fraction=1.0) == "testing"
    assert ingest("split.4.csv", 4, test_fraction=1.0) == "testing"
    assert ingest("split.5.csv", 5, category="split", test_fraction=0.0) == "training"
    assert ingest("testing/named.6.csv", 6, test_fraction=0.0) == "testing"
    assert ingest("train/named.7.csv", 7, test_fraction=1.0) == "training"


def test_bad_options_are_refused_before_anything_is_written(project: Project, tmp_path: Path) -> None:
    f = csv_file(tmp_path / "idle.1.csv", 1)
    with pytest.raises(InputError, match="category must be one of training, testing, split, got 'validation'") \
            as info:
        ingest_paths(project, [f], category="validation")
    assert info.value.field == "category"
    with pytest.raises(InputError, match="^field 'label': label must not be empty$") as info:
        ingest_paths(project, [f], label="  ")
    assert info.value.field == "label"
    with pytest.raises(InputError, match="absurd frequency -1.0 Hz") as info:
        ingest_paths(project, [f], frequency_hz=-1.0)
    assert info.value.source == "--frequency"  # the option, not a file, is named
    assert counts(project) == (0, 0, 0)


def test_frequency_option_for_files_without_timestamps(project: Project, tmp_path: Path) -> None:
    f = tmp_path / "idle.1.csv"
    f.write_text("a,b\n1,2\n3,4\n5,6\n")
    (s,) = ingest_paths(project, [f], frequency_hz=100.0).samples
    assert s.frequency_hz == 100.0 and s.shape == (3, 2)


def test_device_and_metadata_come_from_the_file_and_the_options(project: Project, tmp_path: Path) -> None:
    from crisp_eml.data.formats.ei_acquisition import build_message, encode

    msg = build_message(np.ones((4, 3), np.float32), S3, 50.0, device_type="board", device_name="dev-1",
                        metadata={"room": "lab", "subject": "file"})
    (tmp_path / "idle.1.json").write_bytes(encode(msg))
    (s,) = ingest_paths(project, [tmp_path / "idle.1.json"], metadata={"subject": "option"}).samples
    assert (s.device_name, s.device_type) == ("dev-1", "board")
    assert s.metadata == {"room": "lab", "subject": "option"}


def test_audit_entries_name_the_member_checked_and_the_sample(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every entry names the member whose permission was checked, even if the environment changes meanwhile."""
    with project.session() as s:
        s.add(MemberRow(name="dana", persona="domain-expert", owner=False))
    files = [csv_file(tmp_path / f"idle.{i}.csv", i) for i in range(3)]
    progress: list[tuple[int, int, str]] = []

    def on_progress(done: int, total: int, path: str) -> None:
        progress.append((done, total, path))
        monkeypatch.setenv("EML_MEMBER", "dana")  # whoever the environment names from now on

    monkeypatch.setattr("crisp_eml.workspace.ingest.BATCH_FILES", 1)
    r = ingest_paths(project, files, on_progress=on_progress)
    assert progress == [(i + 1, 3, str(f)) for i, f in enumerate(files)]
    entries = [e for e in project.audit_entries() if e.action == "sample.ingest"]
    assert [(e.actor, e.persona) for e in entries] == [("tester", "ml-platform-developer")] * 3
    assert [e.artifacts for e in entries] == [
        {"sample": s.id, "hash": s.hash, "source_hash": s.source_hash, "label": "idle", "category": s.category}
        for s in r.samples]


def test_a_batch_that_fails_once_commits_every_file_on_retry(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crisp_eml.workspace.ingest as ingest_mod

    with project.session() as s:
        s.add(MemberRow(name="dana", persona="domain-expert", owner=False))
    files = [csv_file(tmp_path / f"idle.{i}.csv", i) for i in range(4)]
    real = ingest_mod.add_sample
    calls = []

    def once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["name"])
        if len(calls) == 2:
            monkeypatch.setenv("EML_MEMBER", "dana")  # the retry still records the member checked
            raise RuntimeError("database hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_mod, "add_sample", once)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)  # all four files in one transaction
    r = ingest_paths(project, files)
    assert r.ok and [s.name for s in r.samples] == ["idle.0", "idle.1", "idle.2", "idle.3"]
    assert counts(project) == (4, 4, 4)
    assert {e.actor for e in project.audit_entries() if e.action == "sample.ingest"} == {"tester"}
