"""Garbage collection against real concurrent writer processes (issue 9): no sample ever loses its blob.

One process loops ``gc_blobs`` with a tiny grace period (0.5 s, so ingested blobs really do become
candidates) while another ingests 50 small batches; before each batch it plants, for half of the files,
an *old* unreferenced blob with the very content the batch is about to store (a blob left by a removed
sample), the case where a writer re-uses a blob gc has every reason to take. Afterwards every sample row's
blob must exist and hash right, and neither process may have crashed.

A second test kills an ingest with SIGKILL and checks that its prefetched orphans are collected at once,
with the default (one hour) grace period, through the dead writer's journal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.gc_blobs import gc_blobs, referenced_blobs

BATCHES = 50
FILES = 6

GC_LOOP = """
import pathlib, sys
from crisp_eml.store.project import Project
from crisp_eml.workspace.gc_blobs import gc_blobs
project, stop = Project(pathlib.Path(sys.argv[1])), pathlib.Path(sys.argv[2])
runs = removed = 0
while not stop.exists():
    removed += len(gc_blobs(project, min_age_s=0.5).removed)
    runs += 1
print(runs, removed)
"""

INGEST_BATCHES = """
import contextlib, os, pathlib, sys, time
from crisp_eml.data.formats import parse_bytes
from crisp_eml.data.samples import encode_array
from crisp_eml.store.project import Project
from crisp_eml.workspace.ingest import ingest_paths
project, root = Project(pathlib.Path(sys.argv[1])), pathlib.Path(sys.argv[2])
total = 0
for batch in sorted(root.iterdir()):
    old = time.time() - 7200
    for f in sorted(batch.iterdir())[::2]:  # an old orphan with this file's content is already stored
        digest = project.blobs.put(encode_array(parse_bytes(f.read_bytes(), str(f)).array))
        with contextlib.suppress(FileNotFoundError):  # gc may already be moving it
            os.utime(project.blobs.path(digest), (old, old))
    report = ingest_paths(project, [batch], label="walk", category="training")
    assert not report.failures, report.failures
    total += len(report.samples)
print(total)
"""


def _csv(path: Path, seed: int, rows: int = 12) -> None:
    arr = np.random.default_rng(seed).normal(size=(rows, 2)).astype(np.float32)
    path.write_bytes(write_csv(arr, (Sensor("x"), Sensor("y")), 50.0))


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _assert_every_sample_has_its_blob(project: Project) -> list[SampleRow]:
    with project.read_session() as s:
        rows = list(s.query(SampleRow))
    missing = [r.hash for r in rows if not project.blobs.verify(r.hash)]
    assert not missing, f"{len(missing)} of {len(rows)} samples lost their blob"
    return rows


def test_ingest_racing_gc_loses_no_blob(project: Project, tmp_path: Path) -> None:
    data = tmp_path / "batches"
    for b in range(BATCHES):
        (data / f"{b:02d}").mkdir(parents=True)
        for i in range(FILES):
            _csv(data / f"{b:02d}" / f"walk.{b:02d}{i}.csv", seed=b * FILES + i)
    stop = tmp_path / "stop"
    gc = _python(GC_LOOP, str(project.root), str(stop))
    try:
        ingest = _python(INGEST_BATCHES, str(project.root), str(data))
        ing_out, ing_err = ingest.communicate(timeout=240)
    finally:
        stop.touch()
        gc_out, gc_err = gc.communicate(timeout=120)
    assert ingest.returncode == 0, ing_err
    assert gc.returncode == 0, gc_err
    assert "Traceback" not in ing_err + gc_err
    assert int(ing_out.split()[-1]) == BATCHES * FILES
    runs, _removed = map(int, gc_out.split())
    assert runs > 0
    rows = _assert_every_sample_has_its_blob(project)
    assert len(rows) == BATCHES * FILES
    assert not list(project.blobs.trash())


INGEST_ALL = """
import pathlib, sys
from crisp_eml.store.project import Project
from crisp_eml.workspace.ingest import ingest_paths
ingest_paths(Project(pathlib.Path(sys.argv[1])), [pathlib.Path(sys.argv[2])], label="idle")
"""


def _count(project: Project) -> int:
    with project.read_session() as s:
        return s.query(SampleRow).count()


def test_killed_ingest_orphans_are_collected_at_once(project: Project, tmp_path: Path) -> None:
    data = tmp_path / "many"
    data.mkdir()
    n = 400
    for i in range(n):
        _csv(data / f"idle.{i:04d}.csv", seed=i, rows=30)
    proc = _python(INGEST_ALL, str(project.root), str(data))
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None and _count(project) < 25:
            time.sleep(0.02)
        assert proc.poll() is None, "ingest finished before it could be killed; make the batch larger"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    rows = _assert_every_sample_has_its_blob(project)
    assert 25 <= len(rows) < n
    orphans = set(project.blobs) - referenced_blobs(project)
    assert orphans, "the kill left no prefetched blob behind; nothing to check"
    report = gc_blobs(project)  # the default grace period: only the dead writer's journal lets these go now
    assert set(report.removed) == orphans
    assert set(project.blobs) == {r.hash for r in rows}
    _assert_every_sample_has_its_blob(project)
