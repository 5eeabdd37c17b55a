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
