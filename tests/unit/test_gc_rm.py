"""Removing samples (audited) and collecting orphan blobs from every table that references blobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    dry = gc_blobs(project, dry_run=True)
    assert sorted(dry.removed) == sorted([a.hash, orphan]) and project.blobs.exists(a.hash)
    report = gc_blobs(project)
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
    removed = gc_blobs(project).removed
    assert sorted(removed) == sorted([audit_only, gone])
    assert {kept_col, kept_json, kept_nested} <= set(project.blobs)
