"""Removing samples (audited), collecting orphan blobs from every table, and gc safety against writers."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crisp_eml.core.errors import ConflictError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.blobs import sha256
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
    data = {project.blobs.put(b): b for b in (b"picked by gc, then stored again", b"and another one")}
    for d in data:
        _age(project.blobs.path(d), 2 * HOUR)
    move = project.blobs.move_aside

    def store_then_move(digest: str) -> str | None:
        project.blobs.put(data[digest])
        return move(digest)

    monkeypatch.setattr(project.blobs, "move_aside", store_then_move)
    report = gc_blobs(project, min_age_s=HOUR)
    assert report.removed == [] and report.kept_young == 2 and all(project.blobs.verify(d) for d in data)
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


# -- reports, arguments, chunks and failures (mutation-tested: scripts/mutation.py gc_blobs) -------------------

def _later_table(project: Project, **refs: str) -> None:
    """A table some later capability might add, naming blobs in a ``*_hash`` column."""
    from sqlalchemy import text

    with project.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS later_runs (id INTEGER PRIMARY KEY, model_hash TEXT)"))
        for h in refs.values():
            conn.execute(text("INSERT INTO later_runs (model_hash) VALUES (:h)"), {"h": h})


def _gc_entries(project: Project) -> list[tuple[str, dict[str, object]]]:
    return [(e.actor, e.artifacts) for e in project.audit_entries() if e.action == "blob.gc"]


def test_gc_report_and_a_dry_run_that_changes_nothing(project: Project) -> None:
    old = [project.blobs.put(b"old orphan 1"), project.blobs.put(b"old orphan 2")]
    young = [project.blobs.put(b"young orphan 1"), project.blobs.put(b"young orphan 2")]
    used = project.blobs.put(b"referenced, and in the trash of a gc that was stopped")
    for d in (*old, used):
        _age(project.blobs.path(d), 2 * HOUR)
    _later_table(project, used=used)
    trash = project.blobs.move_aside(used)
    tmp = Path(project.blobs.path(used)).parent / ".tmp-left-by-a-crash"
    tmp.write_bytes(b"half")
    _age(str(tmp), 2 * HOUR)

    dry = gc_blobs(project, min_age_s=HOUR, dry_run=True)
    assert dry.to_dict() == {"referenced": 1, "removed": 2, "removed_blobs": sorted(old), "kept_young": 2,
                             "grace_s": HOUR, "temp_removed": 0}
    assert all(project.blobs.exists(d) for d in (*old, *young)) and tmp.exists()
    assert list(project.blobs.trash()) == [(trash, used)] and not project.blobs.exists(used)  # left as it was
    assert _gc_entries(project) == []

    report = gc_blobs(project, min_age_s=HOUR)
    assert report.to_dict() == {"referenced": 1, "removed": 2, "removed_blobs": sorted(old), "kept_young": 2,
                                "grace_s": HOUR, "temp_removed": 1}
    assert project.blobs.exists(used) and not list(project.blobs.trash())  # put back, before any reader
    assert not tmp.exists() and all(project.blobs.exists(d) for d in young)
    assert not any(project.blobs.exists(d) for d in old)
    assert _gc_entries(project) == [("tester", {"removed": 2, "grace_s": HOUR})]


def test_gc_needs_the_ingest_permission(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisp_eml.core.errors import PermissionDeniedError
    from crisp_eml.store.tables.audit import MemberRow

    gone = project.blobs.put(b"orphan")
    with project.session() as s:
        s.add(MemberRow(name="eve", persona="embedded-developer", owner=False))
        s.add(MemberRow(name="dana", persona="domain-expert", owner=False))
    monkeypatch.setenv("EML_MEMBER", "eve")
    with pytest.raises(PermissionDeniedError, match="eve"):
        gc_blobs(project, min_age_s=0)
    assert project.blobs.exists(gone)
    monkeypatch.setenv("EML_MEMBER", "dana")  # not an owner, but may ingest data
    import crisp_eml.workspace.gc_blobs as gc_mod

    snapshot = gc_mod.referenced_blobs

    def snapshot_then_switch(p: Project) -> set[str]:
        monkeypatch.setenv("EML_MEMBER", "eve")  # the audit names the member checked, not whoever comes later
        return snapshot(p)

    monkeypatch.setattr(gc_mod, "referenced_blobs", snapshot_then_switch)
    assert gc_blobs(project, min_age_s=0).removed == [gone]
    assert _gc_entries(project) == [("dana", {"removed": 1, "grace_s": 0.0})]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), float("-inf")])
def test_gc_refuses_a_bad_grace_period(project: Project, bad: float) -> None:
    from crisp_eml.core.errors import InputError

    d = project.blobs.put(b"orphan")
    with pytest.raises(InputError, match=f"must be a non-negative number of seconds, got {bad!r}") as info:
        gc_blobs(project, min_age_s=bad)
    assert info.value.field == "min-age" and project.blobs.exists(d)


def test_gc_takes_a_blob_exactly_as_old_as_the_grace_period(project: Project,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Younger than the grace period is kept; as old as it, or older, goes (blobs and temporary files)."""
    now = float(int(time.time()))
    at_grace, younger = project.blobs.put(b"exactly at the grace period"), project.blobs.put(b"a second younger")
    folder = Path(project.blobs.path(at_grace)).parent
    tmp_at, tmp_younger = folder / ".tmp-at-an-hour", folder / ".tmp-younger"
    for path, age in ((project.blobs.path(at_grace), HOUR), (project.blobs.path(younger), HOUR - 1),
                      (tmp_at, HOUR), (tmp_younger, HOUR - 1)):
        Path(path).touch()
        os.utime(path, ns=(int((now - age) * 10**9),) * 2)
    monkeypatch.setattr(time, "time", lambda: now)
    report = gc_blobs(project, min_age_s=HOUR)
    assert report.removed == [at_grace] and report.kept_young == 1 and report.temp_removed == 1
    assert project.blobs.exists(younger) and tmp_younger.exists() and not tmp_at.exists()


def test_gc_works_in_chunks_each_audited(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import crisp_eml.workspace.gc_blobs as gc_mod

    orphans = [project.blobs.put(f"orphan {i}".encode()) for i in range(5)]
    monkeypatch.setattr(gc_mod, "CHUNK", 2)
    assert gc_blobs(project, min_age_s=0).removed == sorted(orphans)
    assert list(project.blobs) == []
    assert [a for _, a in _gc_entries(project)] == [{"removed": n, "grace_s": 0.0} for n in (2, 2, 1)]


def test_gc_skips_blobs_that_vanish_or_come_back_under_it(project: Project,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """One candidate is deleted by another tool, one is moved back by a reader right after the move: both are
    skipped, the others still go."""
    orphans = [project.blobs.put(f"orphan {i}".encode()) for i in range(4)]
    move = project.blobs.move_aside
    calls: list[str] = []

    def racing(digest: str) -> str | None:
        calls.append(digest)
        if len(calls) == 1:
            project.blobs.delete(digest)
        trash = move(digest)
        if len(calls) == 2:
            assert project.blobs.recover(digest)  # a reader missed it and moved it back
        return trash

    monkeypatch.setattr(project.blobs, "move_aside", racing)
    report = gc_blobs(project, min_age_s=0)
    vanished, came_back = calls[:2]
    assert report.removed == sorted(set(orphans) - {vanished, came_back})
    assert project.blobs.verify(came_back) and not project.blobs.exists(vanished)
    assert sorted(project.blobs) == [came_back] and not list(project.blobs.trash())


def test_a_failing_gc_puts_back_what_it_moved(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import crisp_eml.workspace.gc_blobs as gc_mod

    orphans = [project.blobs.put(f"orphan {i}".encode()) for i in range(3)]
    real = gc_mod.references

    def failing(conn: object, among: object = None) -> set[str]:
        if among is not None:
            raise RuntimeError("database went away")
        return real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(gc_mod, "references", failing)
    with pytest.raises(RuntimeError, match="database went away"):
        gc_blobs(project, min_age_s=0)
    assert all(project.blobs.exists(d) for d in orphans) and not list(project.blobs.trash())
    assert _gc_entries(project) == []


def test_a_gc_that_removes_nothing_is_not_audited(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import crisp_eml.workspace.gc_blobs as gc_mod

    late = project.blobs.put(b"referenced right after the snapshot")
    _later_table(project)
    snapshot = gc_mod.referenced_blobs

    def snapshot_then_commit(p: Project) -> set[str]:
        refs = snapshot(p)
        _later_table(p, late=late)
        return refs

    monkeypatch.setattr(gc_mod, "referenced_blobs", snapshot_then_commit)
    report = gc_blobs(project, min_age_s=0)
    assert report.removed == [] and project.blobs.verify(late) and _gc_entries(project) == []


def test_references_in_text_json_keys_and_among(project: Project) -> None:
    from sqlalchemy import text

    from crisp_eml.workspace.gc_blobs import references

    in_text, as_key, plain, other = (project.blobs.put(b) for b in (b"in a JSON text", b"a key", b"plain", b"o"))
    with project.engine.begin() as conn:
        conn.execute(text("CREATE TABLE later_notes (id INTEGER PRIMARY KEY, artifacts TEXT, input_hash TEXT)"))
        for value in (f'{{"deep": ["{in_text}"]}}', f'{{"{as_key}": 1}}', plain, "{not json", "", "[1, 2]"):
            conn.execute(text("INSERT INTO later_notes (artifacts) VALUES (:a)"), {"a": value})
        conn.execute(text("INSERT INTO later_notes (input_hash) VALUES (:h)"), {"h": other})
        assert references(conn) == {in_text, as_key, plain, other}
        assert references(conn, among={other, in_text, sha256(b"unknown")}) == {other, in_text}
    assert gc_blobs(project, min_age_s=0).removed == []


def test_discard_if_unused_takes_only_this_processs_untouched_orphans(project: Project) -> None:
    """What an ingest wrote ahead for a file it did not commit goes at once, unless a row or a writer uses it."""
    from crisp_eml.store.blob_journal import journal_for
    from crisp_eml.workspace.gc_blobs import discard_if_unused

    mine, restored, used = (project.blobs.put(b) for b in (b"written ahead", b"stored again since", b"committed"))
    journal = journal_for(project)
    for d in (mine, restored, used):
        journal.wrote(d, project.blobs.stamp(project.blobs.path(d)))
    stamp = project.blobs.stamp(project.blobs.path(restored))
    assert stamp is not None
    os.utime(project.blobs.path(restored), ns=(stamp + 10**9, stamp + 10**9))
    _later_table(project, used=used)
    never_journaled = project.blobs.put(b"not written by this process")
    assert discard_if_unused(project, [mine, restored, used, never_journaled]) == [mine]
    assert [d for d in (mine, restored, used, never_journaled) if project.blobs.exists(d)] == \
        [restored, used, never_journaled]
    assert _gc_entries(project) == []  # nothing that was ever referenced went: not audited


def _age_remote(project: Project, digest: str, seconds: float) -> None:
    """What os.utime does for a local blob, on fsspec's memory backend (which reports its ``created`` time)."""
    from datetime import UTC, datetime

    project.blobs.fs.store[project.blobs.path(digest)].created = datetime.fromtimestamp(time.time() - seconds, UTC)


def test_gc_on_a_remote_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without atomic renames, references and ages are re-read inside the write transaction: a blob named by a
    row committed after the snapshot, deleted by another tool or stored again by a writer is skipped."""
    import uuid

    import crisp_eml.workspace.gc_blobs as gc_mod
    from crisp_eml.store.tables.audit import MemberRow

    project = Project.init(tmp_path / "remote", "remote", member="tester", blob_url=f"memory://{uuid.uuid4().hex}")
    assert not project.blobs.local
    with project.session() as s:
        s.add(MemberRow(name="eve", persona="embedded-developer", owner=False))
    used = project.blobs.put(b"referenced")
    young = project.blobs.put(b"young")
    # roles by listing order, so that every skipped blob comes before the ones still to decide
    late, vanishing, stored1, stored2, at_grace, old = sorted(project.blobs.put(f"blob {i}".encode()) for i in range(6))
    now = float(int(time.time()))
    monkeypatch.setattr(time, "time", lambda: now)
    for d in (used, late, vanishing, stored1, stored2, old):
        _age_remote(project, d, 2 * HOUR)
    _age_remote(project, at_grace, HOUR)  # exactly as old as the grace period: goes
    _later_table(project, used=used)
    snapshot, real_references = gc_mod.referenced_blobs, gc_mod.references

    def snapshot_then_race(p: Project) -> set[str]:
        refs = snapshot(p)
        monkeypatch.setenv("EML_MEMBER", "eve")  # the audit names the member checked, not whoever comes later
        _later_table(p, late=late)  # a row naming it commits after the snapshot
        p.blobs.delete(vanishing)  # another tool removes it
        return refs

    def store_then_check(conn: Any, among: Any = None) -> set[str]:
        if among is not None:  # inside the transaction: a writer stored these two again just before
            for d in (stored1, stored2):
                _age_remote(project, d, 0)
        return real_references(conn, among)

    monkeypatch.setattr(gc_mod, "referenced_blobs", snapshot_then_race)
    monkeypatch.setattr(gc_mod, "references", store_then_check)
    report = gc_blobs(project, min_age_s=HOUR)
    assert (report.removed, report.kept_young) == (sorted([at_grace, old]), 3)
    assert sorted(project.blobs) == sorted([used, young, late, stored1, stored2])
    assert _gc_entries(project) == [("tester", {"removed": 2, "grace_s": HOUR})]
    # candidates that are all kept: nothing removed, no audit entry
    monkeypatch.delenv("EML_MEMBER")
    monkeypatch.setattr(gc_mod, "referenced_blobs", snapshot)
    for d in (stored1, stored2):
        _age_remote(project, d, 2 * HOUR)
    report = gc_blobs(project, min_age_s=HOUR)
    assert (report.removed, report.kept_young) == ([], 3) and project.blobs.exists(stored1)
    assert len(_gc_entries(project)) == 1
