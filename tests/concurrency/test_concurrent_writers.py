"""Real processes writing one project at once: the same files ingested twice, and parallel audit appends.

Before the write lock was taken at the start of every transaction, two ``eml ingest`` of the same folder gave
1,744 rows for 1,000 distinct files, and parallel appends failed with ``UNIQUE constraint failed:
audit_log.seq``. Each test starts its writers as separate Python processes released together by a start file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.audit import verify

N_FILES = 150
WRITERS = 4
APPENDS = 25

INGEST = """
import json, sys, time
from pathlib import Path
from crisp_eml.store.project import Project
from crisp_eml.workspace.ingest import ingest_paths
root, data, go, out = map(Path, sys.argv[1:5])
project = Project(root)
while not go.exists():
    time.sleep(0.005)
r = ingest_paths(project, [data], skip_duplicates=False)
out.write_text(json.dumps({"ingested": len(r.samples), "failures": [f.to_dict() for f in r.failures]}))
"""

APPEND = """
import sys, time
from pathlib import Path
from crisp_eml.store.project import Project
root, go, n, tag = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
project = Project(root)
while not go.exists():
    time.sleep(0.005)
for i in range(n):
    with project.session() as s:
        project.record(s, "test.parallel", {"writer": tag, "i": i})
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _release(go: Path, procs: list[subprocess.Popen[str]]) -> None:
    time.sleep(1.0)  # let every interpreter start and open the project, so the writers really overlap
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]


def test_two_ingests_of_the_same_files_keep_one_row_per_content(tmp_path: Path) -> None:
    project = Project.init(tmp_path / "p", "race", member="tester")
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(3)
    sensors = (Sensor("x", "g"), Sensor("y", "g"))
    for i in range(N_FILES):
        (data / f"idle.{i:04d}.csv").write_bytes(write_csv(rng.normal(size=(8, 2)).astype(np.float32), sensors, 10.0))
    go = tmp_path / "go"
    outs = [tmp_path / f"out{i}.json" for i in range(2)]
    procs = [_spawn(INGEST, str(project.root), str(data), str(go), str(o)) for o in outs]
    _release(go, procs)
    results = [json.loads(o.read_text()) for o in outs]
    with project.read_session() as s:
        rows = s.scalar(select(func.count()).select_from(SampleRow))
        identities = s.scalar(select(func.count(func.distinct(SampleRow.identity))))
        audited = s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "sample.ingest"))
    assert rows == identities == audited == N_FILES
    assert sum(r["ingested"] for r in results) == N_FILES
    failures = [f for r in results for f in r["failures"]]
    assert len(failures) == N_FILES and {f["error"] for f in failures} == {"ConflictError"}
    assert all("duplicate of sample" in f["reason"] for f in failures)
    assert verify(project).ok


def test_parallel_audit_appends_leave_no_gap_and_no_error(tmp_path: Path) -> None:
    project = Project.init(tmp_path / "p", "race", member="tester")
    go = tmp_path / "go"
    procs = [_spawn(APPEND, str(project.root), str(go), str(APPENDS), f"w{i}") for i in range(WRITERS)]
    _release(go, procs)
    entries = project.audit_entries()
    assert [e.seq for e in entries] == list(range(1, WRITERS * APPENDS + 2))
    per_writer = {f"w{i}": [e.artifacts["i"] for e in entries if e.artifacts.get("writer") == f"w{i}"]
                  for i in range(WRITERS)}
    assert all(v == list(range(APPENDS)) for v in per_writer.values())
    r = verify(project)
    assert r.ok, r.problems
    assert r.checkpoints == WRITERS * APPENDS + 1 and r.last_good is not None
    assert r.last_good.seq == WRITERS * APPENDS + 1
