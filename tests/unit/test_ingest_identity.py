"""Sample identity: the database refuses a second copy of the same content, rate and axes (issue: integrity).

Duplicates used to be found by a look-up of the blob hash alone, before the insert: two ingests racing, or the
rate and axes being ignored, slipped past it. Now each raw row carries ``content_identity`` under a unique index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from crisp_eml.core.sample import Sensor, content_identity
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace import ingest as ingest_mod
from crisp_eml.workspace.ingest import ingest_paths

S3 = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))
VALUES = np.random.default_rng(7).normal(size=(20, 3)).astype(np.float32)


def _csv(path: Path, hz: float = 50.0, sensors: tuple[Sensor, ...] = S3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_csv(VALUES, sensors, hz))
    return path


def _rows(project: Project) -> tuple[int, int]:
    with project.read_session() as s:
        rows = s.scalar(select(func.count()).select_from(SampleRow))
        audits = s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "sample.ingest"))
    return int(rows or 0), int(audits or 0)


def test_identity_covers_rate_axes_units_and_kind() -> None:
    base = content_identity("a" * 64, "timeseries", 50.0, S3)
    assert base == content_identity("a" * 64, "timeseries", 50.0, list(S3))
    others = [content_identity("b" * 64, "timeseries", 50.0, S3), content_identity("a" * 64, "timeseries", 1.0, S3),
              content_identity("a" * 64, "timeseries", 50.0000001, S3),
              content_identity("a" * 64, "audio", 50.0, S3), content_identity("a" * 64, "timeseries", None, S3),
              content_identity("a" * 64, "timeseries", 50.0, (Sensor("x", "m/s2"), *S3[1:])),
              content_identity("a" * 64, "timeseries", 50.0, (Sensor("accX", "g"), *S3[1:]))]
    assert len({base, *others}) == len(others) + 1


def test_same_values_at_another_rate_or_axes_are_not_duplicates(project: Project, tmp_path: Path) -> None:
    files = [_csv(tmp_path / "a.csv", 50.0), _csv(tmp_path / "b.csv", 1.0),
             _csv(tmp_path / "c.csv", 50.0, (Sensor("gyrX", "dps"), Sensor("gyrY", "dps"), Sensor("gyrZ", "dps")))]
    r = ingest_paths(project, files)
    assert r.ok and len(r.samples) == 3 and len({s.hash for s in r.samples}) == 1  # same blob, three samples
    r = ingest_paths(project, [_csv(tmp_path / "d.csv", 50.0)])
    assert [f.error for f in r.failures] == ["ConflictError"] and "duplicate of sample" in r.failures[0].reason
    assert _rows(project) == (3, 3)


def test_two_copies_in_one_batch_keep_one_row(project: Project, tmp_path: Path) -> None:
    files = [_csv(tmp_path / "one.csv"), _csv(tmp_path / "two.csv")]
    r = ingest_paths(project, files)
    assert len(r.samples) == 1 and [f.path for f in r.failures] == [str(files[1])]
    assert "duplicate" in r.failures[0].reason and _rows(project) == (1, 1)
    r = ingest_paths(project, files, allow_duplicates=True)
    assert r.ok and _rows(project) == (3, 3)


def test_a_copy_committed_after_the_look_up_is_refused_by_the_index(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The look-up misses a row another writer committed meanwhile (simulated by an empty look-up): the unique
    index refuses the insert, the file is reported as a duplicate, the rest of the batch commits."""
    first = ingest_paths(project, [_csv(tmp_path / "a.csv")])
    assert first.ok
    monkeypatch.setattr(ingest_mod, "_known", lambda s, identities: {})
    other = tmp_path / "other.csv"
    other.write_bytes(write_csv(VALUES * 2, S3, 50.0))
    r = ingest_paths(project, [_csv(tmp_path / "again.csv"), other])
    assert [s.name for s in r.samples] == ["other"]
    assert [f.error for f in r.failures] == ["ConflictError"]
    assert r.failures[0].reason.startswith(f"{tmp_path / 'again.csv'}: duplicate of sample {first.samples[0].id} ('a')")
    assert _rows(project) == (2, 2)


def test_the_same_signal_as_audio_and_as_a_time_series_are_not_duplicates(project: Project, tmp_path: Path) -> None:
    from crisp_eml.data.formats.wav import parse_wav, write_wav

    wav = write_wav(np.linspace(-0.5, 0.5, 64, dtype=np.float32).reshape(-1, 1), 8000)
    parsed = parse_wav(wav, "x.wav")
    (tmp_path / "tone.wav").write_bytes(wav)
    (tmp_path / "tone.csv").write_bytes(write_csv(parsed.array, parsed.sensors, 8000.0))
    r = ingest_paths(project, [tmp_path / "tone.wav", tmp_path / "tone.csv"])
    assert r.ok and sorted(s.kind for s in r.samples) == ["audio", "timeseries"]
    assert len({s.hash for s in r.samples}) == 1  # one blob, two samples


def test_a_duplicate_does_not_stop_the_files_after_it(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ingest_paths(project, [_csv(tmp_path / "a.csv")])
    (kept,) = first.samples
    other = tmp_path / "other.csv"
    other.write_bytes(write_csv(VALUES * 3, S3, 50.0))
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)  # one transaction for all
    r = ingest_paths(project, [_csv(tmp_path / "again.csv"), _csv(tmp_path / "again2.csv"), other])
    assert [s.name for s in r.samples] == ["other"]
    assert [f.reason for f in r.failures] == [
        f"{tmp_path / name}: duplicate of sample {kept.id} ('a'): same content, rate and axes "
        "(use --allow-duplicates to keep both)" for name in ("again.csv", "again2.csv")]
    assert _rows(project) == (2, 2)


def test_add_sample_restores_a_prepared_blob_that_vanished(project: Project) -> None:
    """Ingest hands ``add_sample`` the digest it stored ahead: an existing blob is only refreshed, one removed
    meanwhile (a gc, a hand) is stored again from the array, so the committed row always has its blob."""
    from crisp_eml.data.samples import add_sample, encode_array
    from crisp_eml.store.blobs import sha256

    digest = project.blobs.put(encode_array(VALUES))
    project.blobs.delete(digest)
    with project.session() as s:
        sample = add_sample(project, s, VALUES, name="x", label="a", category="training", kind="timeseries",
                            sensors=S3, frequency_hz=50.0, source="test", digest=digest)
    assert sample.hash == digest and sha256(project.blobs.get(digest)) == digest
