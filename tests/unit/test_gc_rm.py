"""Removing samples (audited), collecting orphan blobs from every table, and gc safety against writers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.core.errors import ConflictError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import DatasetVersionItemRow, DatasetVersionRow
from crisp_eml.workspace.gc_blobs import gc_blobs, referenced_blobs
from crisp_eml.workspace.ingest import ingest_paths
from crisp_eml.workspace.remove_sample import remove_sample


def test_rm_then_gc(project: Project, tmp_path: Path) -> None:
    for i in range(3):
        arr = np.full((4, 1), i, np.float32)
        (tmp_path / f"a.{i}.csv").write_bytes(write_csv(arr, (Sensor("v"),), 10.0))
    a, b, c = ingest_paths(project, [tmp_path]).samples
    orphan = project.blobs.put(b"left by a crash between blob write and commit")
    with project.session() as s:  # b's content is still referenced by a dataset version
        v = DatasetVersionRow(message="m", digest="0" * 64, author="tester")
        s.add(v)
        s.flush()
        s.add(DatasetVersionItemRow(version_id=v.id, sample_id=b.id, hash=b.hash, name=b.name, label=b.label,
                                    category=b.category))
    remove_sample(project, a.id)
    remove_sample(project, b.name)
    refs = referenced_blobs(project)  # also holds source_hash values (file hashes, never blob names)
    assert {b.hash, c.hash} <= refs and a.hash not in refs and orphan not in refs
    assert gc_blobs(project, min_age_s=3600).removed == []  # everything is younger than an hour
    dry = gc_blobs(project, min_age_s=0, dry_run=True)
    assert sorted(dry.removed) == sorted([a.hash, orphan]) and project.blobs.exists(a.hash)
    report = gc_blobs(project, min_age_s=0)
    assert sorted(report.removed) == sorted([a.hash, orphan])
    assert sorted(project.blobs) == sorted([b.hash, c.hash])
    actions = [e.action for e in project.audit_entries()]
    assert actions.count("sample.remove") == 2 and actions[-1] == "blob.gc"


def test_gc_counts_references_from_any_table(project: Project) -> None:
    from sqlalchemy import text

    kept_col = project.blobs.put(b"referenced by a *_hash column")
    kept_json = project.blobs.put(b"referenced inside an artifacts mapping")
    kept_nested = project.blobs.put(b"nested deeper in artifacts")
    audit_only = project.blobs.put(b"mentioned only by the audit log")
    gone = project.blobs.put(b"referenced by nothing")
    with project.engine.begin() as conn:  # a table some later capability might add
        conn.execute(text("CREATE TABLE later_runs (id INTEGER PRIMARY KEY, model_hash TEXT, artifacts JSON)"))
        conn.execute(text("INSERT INTO later_runs (model_hash, artifacts) VALUES (:h, :a)"),
                     {"h": kept_col, "a": f'{{"model": "{kept_json}", "more": [{{"x": "{kept_nested}"}}]}}'})
    with project.session() as s:
        project.record(s, "test.note", {"blob": audit_only})
    removed = gc_blobs(project, min_age_s=0).removed
    assert sorted(removed) == sorted([audit_only, gone])
    assert {kept_col, kept_json, kept_nested} <= set(project.blobs)


# -- safety against concurrent writers (issue 9) ------------------------------------------------------------

HOUR = 3600.0


def _age(path: str, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_gc_keeps_an_old_blob_that_a_writer_stored_again(project: Project) -> None:
    reused = project.blobs.put(b"an old blob a new row is about to use")
    stale = project.blobs.put(b"an old blob nobody uses")
    for d in (reused, stale):
        _age(project.blobs.path(d), 2 * HOUR)
    assert project.blobs.put(b"an old blob a new row is about to use") == reused  # a new reference: young again
    report = gc_blobs(project, min_age_s=HOUR)
    assert report.removed == [stale] and report.kept_young == 1
    assert project.blobs.verify(reused) and not project.blobs.exists(stale)


def test_gc_removes_only_old_temporary_files(project: Project) -> None:
    d = project.blobs.put(b"x")
    folder = Path(project.blobs.path(d)).parent
    young, old = folder / ".tmp-young-write-in-progress", folder / ".tmp-left-by-a-crash"
    young.write_bytes(b"half")
    old.write_bytes(b"half")
    _age(str(old), 2 * HOUR)
    report = gc_blobs(project, min_age_s=0)
    assert young.exists() and not old.exists() and report.temp_removed == 1


def test_gc_keeps_a_blob_referenced_after_its_snapshot(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer commits a row naming an old orphan right after gc read the references: the blob stays."""
    from sqlalchemy import text

    import crisp_eml.workspace.gc_blobs as gc_mod

    late = project.blobs.put(b"committed by a writer while gc runs")
    gone = project.blobs.put(b"a true orphan")
    for d in (late, gone):
        _age(project.blobs.path(d), 2 * HOUR)
    with project.engine.begin() as conn:
        conn.execute(text("CREATE TABLE later_runs (id INTEGER PRIMARY KEY, model_hash TEXT)"))
    snapshot = gc_mod.referenced_blobs

    def snapshot_then_commit(p: Project) -> set[str]:
        refs = snapshot(p)
        with p.engine.begin() as conn:
            conn.execute(text("INSERT INTO later_runs (model_hash) VALUES (:h)"), {"h": late})
        return refs

    monkeypatch.setattr(gc_mod, "referenced_blobs", snapshot_then_commit)
    assert gc_blobs(project, min_age_s=HOUR).removed == [gone]
    assert project.blobs.verify(late) and not project.blobs.exists(gone)


def test_gc_keeps_a_blob_stored_between_selection_and_move(project: Project,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer re-uses an old orphan after gc picked it: the moved copy is young, so it is moved back."""
    data = b"picked by gc, then stored again by a writer"
    d = project.blobs.put(data)
    _age(project.blobs.path(d), 2 * HOUR)
    move = project.blobs.move_aside

    def store_then_move(digest: str) -> str | None:
        project.blobs.put(data)
        return move(digest)

    monkeypatch.setattr(project.blobs, "move_aside", store_then_move)
    report = gc_blobs(project, min_age_s=HOUR)
    assert report.removed == [] and report.kept_young == 1 and project.blobs.verify(d)
    assert not list(project.blobs.trash())


def test_blob_moved_aside_by_a_stopped_gc_comes_back(project: Project) -> None:
    d = project.blobs.put(b"in the trash when gc was killed")
    project.blobs.move_aside(d)
    assert not project.blobs.exists(d)
    assert project.blobs.get(d) == b"in the trash when gc was killed"  # a reader moves it back
    project.blobs.move_aside(d)
    gc_blobs(project, min_age_s=HOUR)  # the next gc moves it back too (and it is young again)
    assert project.blobs.verify(d) and not list(project.blobs.trash())


def test_gc_collects_a_dead_writers_orphans_at_once(project: Project) -> None:
    """Blobs in the journal of a process that died (no lock on it) go without the grace period, unless
    someone stored them since or a row references them."""
    from crisp_eml.store.blob_journal import JOURNAL_DIR

    orphan, reused, used = (project.blobs.put(b) for b in (b"orphan", b"stored again since", b"committed"))
    stamps = {d: os.stat(project.blobs.path(d)).st_mtime_ns for d in (orphan, reused, used)}
    folder = project.state_dir / JOURNAL_DIR
    folder.mkdir()
    (folder / "4242-dead.log").write_text("".join(f"{d} {s}\n" for d, s in stamps.items()) + "garbage line\n")
    os.utime(project.blobs.path(reused), ns=(stamps[reused] + 10**9, stamps[reused] + 10**9))
    with project.session() as s:
        v = DatasetVersionRow(message="m", digest="0" * 64, author="tester")
        s.add(v)
        s.flush()
        s.add(DatasetVersionItemRow(version_id=v.id, sample_id="x", hash=used, name="n", label="l",
                                    category="training"))
    assert gc_blobs(project, min_age_s=HOUR).removed == [orphan]
    assert project.blobs.exists(reused) and project.blobs.exists(used)
    assert not list(folder.iterdir())  # the dead journal is done with


def test_gc_ignores_a_live_writers_journal(project: Project) -> None:
    from crisp_eml.store.blob_journal import journal_for

    d = project.blobs.put(b"written ahead by this (live) process")
    journal_for(project).wrote(d, os.stat(project.blobs.path(d)).st_mtime_ns)
    assert gc_blobs(project, min_age_s=HOUR).removed == []
    assert project.blobs.exists(d)


def test_two_gcs_at_once_are_refused(project: Project) -> None:
    import fcntl

    with open(project.state_dir / "gc.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ConflictError, match="another 'eml data gc' is running"):
            gc_blobs(project, min_age_s=0)
