"""Ingestion under concurrency and crashes, against a real ``eml serve``.

Concurrent uploads of the same content with ``x-disallow-duplicates``: exactly one sample (the unique
identity index decides, whoever commits first). A server killed with SIGKILL in the middle of a big
multi-file upload: every sample row it committed has its blob, intact; the audit chain verifies; the blobs
it wrote ahead for files it never committed are unreferenced, so only ``eml data gc`` collects them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import requests
from server_helpers import OWNER, live_server, make_project
from sqlalchemy import func, select

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.samples import list_samples
from crisp_eml.store import audit as chain
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.check import read_signal
from crisp_eml.workspace.gc_blobs import referenced_blobs

S3 = (Sensor("x"), Sensor("y"), Sensor("z"))


def _csv(seed: int, n: int = 100) -> bytes:
    return write_csv(np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32), S3, 100.0)


def _eml(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    eml = Path(sys.executable).with_name("eml")
    return subprocess.run([str(eml), *args], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "EML_MEMBER": OWNER})


def test_concurrent_identical_uploads_make_one_sample(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _p, _t, key = make_project(root)
    body = _csv(1)
    results: list[dict[str, object]] = []
    lock = threading.Lock()
    with live_server(root) as server:
        go = threading.Barrier(8)

        def upload(i: int) -> None:
            go.wait()
            r = requests.post(f"{server.url}/api/training/files", timeout=120,
                              headers={"x-api-key": key, "x-disallow-duplicates": "1"},
                              files=[("data", (f"same.{i}.csv", body, "text/csv"))])
            with lock:
                results.append({"status": r.status_code, **r.json()["files"][0]})

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert all(r["status"] == 200 for r in results)
    ok = [r for r in results if r["success"]]
    assert len(ok) == 1
    assert all("duplicate" in str(r["error"]) for r in results if not r["success"])
    project = Project.open(root)
    assert [s.id for s in list_samples(project)] == [ok[0]["sampleId"]]


def test_sigkill_mid_upload_leaves_a_consistent_store(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _p, _t, key = make_project(root)
    project = Project.open(root)
    files = [("data", (f"k.{i}.csv", _csv(100 + i, n=400), "text/csv")) for i in range(600)]
    with live_server(root) as server:
        def upload() -> None:
            with contextlib.suppress(requests.RequestException):  # the server dies under it
                requests.post(f"{server.url}/api/training/files", headers={"x-api-key": key}, files=files,
                              timeout=120)

        t = threading.Thread(target=upload)
        t.start()
        deadline = time.monotonic() + 90
        rows = 0
        while rows == 0 and time.monotonic() < deadline:  # some batches committed, the rest in flight
            time.sleep(0.05)
            with project.read_session() as s:
                rows = s.execute(select(func.count()).select_from(SampleRow)).scalar_one()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        t.join()
    samples = list_samples(project)
    assert 0 < len(samples) < 600  # killed in the middle
    for s in samples:
        arr, problem = read_signal(project, s)
        assert problem is None and arr is not None, (s.name, problem)
    with project.read_session() as session:
        assert chain.verify(session) == []  # the hash chain is whole (the signed checkpoint may lag the last commit)
    referenced = referenced_blobs(project)
    assert {s.hash for s in samples} <= referenced
    gc = _eml(root, "data", "gc", "--min-age", "0", "--json")
    assert gc.returncode == 0, gc.stderr
    after = list_samples(project)
    assert [s.id for s in after] == [s.id for s in samples]  # gc removed only orphans
    blobs = {f.digest for f in project.blobs.files() if f.digest}
    assert {s.hash for s in after} <= blobs <= referenced  # every orphan gone, every sample's blob kept
    assert all(read_signal(project, s)[1] is None for s in after)
    audit = _eml(root, "audit", "verify")  # gc's own entry was checkpointed: the whole trail verifies again
    assert audit.returncode == 0, audit.stdout + audit.stderr
