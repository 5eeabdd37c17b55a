"""The team server over a PostgreSQL metadata store: many clients at once, as on SQLite (issue 11, item 6).

A project whose ``metadata_url`` points at a fresh database of a throw-away PostgreSQL cluster
(:mod:`postgres_helpers`) is served by a real ``eml serve``. Several clients upload distinct files at once, with
ingestion keys and member tokens: every file is stored, with its blob. Clients that upload the same content
at once with ``x-disallow-duplicates``: exactly one sample. Afterwards the audit chain verifies, signed to its
last entry, and the API's pages cover the listing in the CLI's order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests
from postgres_helpers import PgCluster, pg_cluster  # noqa: F401 - pg_cluster is a fixture
from server_helpers import OWNER, live_server, make_project

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.samples import list_samples
from crisp_eml.store.project import Project
from crisp_eml.workspace.check import read_signal

S3 = (Sensor("x"), Sensor("y"), Sensor("z"))
CLIENTS = 6
FILES_PER_REQUEST = 8
REQUESTS_PER_CLIENT = 3


def _csv(seed: int) -> bytes:
    return write_csv(np.random.default_rng(seed).normal(size=(50, 3)).astype(np.float32), S3, 100.0)


def _eml(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    eml = Path(sys.executable).with_name("eml")
    return subprocess.run([str(eml), *args], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "EML_MEMBER": OWNER})


def _at_once(n: int, work: Callable[[int], None]) -> None:
    """Run ``work(0..n-1)`` in ``n`` threads released together; re-raise the first failure."""
    go = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            go.wait(60)
            work(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a client hung"
    if errors:
        raise errors[0]


def _project(pg_cluster: PgCluster, tmp_path: Path) -> tuple[Path, dict[str, str], str]:  # noqa: F811
    root = tmp_path / "proj"
    _p, tokens, key = make_project(root, pg_cluster.new_database())
    project = Project.open(root)
    assert project.engine.dialect.name == "postgresql"  # the served project really is on PostgreSQL
    return root, tokens, key


def test_concurrent_distinct_uploads_are_all_stored(pg_cluster: PgCluster, tmp_path: Path) -> None:  # noqa: F811
    root, tokens, key = _project(pg_cluster, tmp_path)
    members = ("dana", "ed", "rita")  # may ingest; the other half of the clients use the ingestion key
    stored: list[str] = []
    lock = threading.Lock()
    with live_server(root) as server:
        def client(i: int) -> None:
            for r in range(REQUESTS_PER_CLIENT):
                seeds = [1000 * i + 100 * r + f for f in range(FILES_PER_REQUEST)]
                if i % 2:
                    resp = requests.post(f"{server.url}/api/training/files", timeout=120,
                                         headers={"x-api-key": key, "x-label": f"c{i}"},
                                         files=[("data", (f"w{s}.csv", _csv(s), "text/csv")) for s in seeds])
                    assert resp.status_code == 200, resp.text
                    body = resp.json()
                    assert body["success"] and all(f["success"] for f in body["files"]), body
                    ids = [f["sampleId"] for f in body["files"]]
                else:
                    resp = requests.post(f"{server.url}/api/v1/samples", timeout=120,
                                         headers={"Authorization": f"Bearer {tokens[members[i // 2]]}"},
                                         data={"label": f"c{i}", "category": "testing"},
                                         files=[("files", (f"w{s}.csv", _csv(s), "text/csv")) for s in seeds])
                    assert resp.status_code == 200, resp.text
                    body = resp.json()
                    assert body["ingested"] == FILES_PER_REQUEST and body["failed"] == 0, body
                    ids = [s["id"] for s in body["samples"]]
                with lock:
                    stored.extend(ids)

        _at_once(CLIENTS, client)

        total = CLIENTS * REQUESTS_PER_CLIENT * FILES_PER_REQUEST
        project = Project.open(root)
        samples = list_samples(project)
        assert len(samples) == total and sorted(s.id for s in samples) == sorted(stored)
        assert {s.label for s in samples} == {f"c{i}" for i in range(CLIENTS)}
        assert {s.category for s in samples if s.label in ("c0", "c2", "c4")} == {"testing"}
        assert {s.category for s in samples if s.label in ("c1", "c3", "c5")} == {"training"}
        for s in samples:
            arr, problem = read_signal(project, s)
            assert problem is None and arr is not None, (s.name, problem)

        # Pages of the API cover the listing, in the CLI's order, with the right total (read by another member).
        got: list[str] = []
        for offset in range(0, total, 25):
            page = requests.get(f"{server.url}/api/v1/samples", params={"limit": 25, "offset": offset}, timeout=60,
                                headers={"Authorization": f"Bearer {tokens['uma']}"})
            assert page.status_code == 200, page.text
            assert page.json()["total"] == total
            got += [item["id"] for item in page.json()["items"]]
        assert got == [s.id for s in samples]
        training = requests.get(f"{server.url}/api/v1/samples", params={"category": "training", "label": "c3"},
                                headers={"Authorization": f"Bearer {tokens['bob']}"}, timeout=60).json()
        assert training["total"] == REQUESTS_PER_CLIENT * FILES_PER_REQUEST
        assert {item["label"] for item in training["items"]} == {"c3"}

    audit = _eml(root, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    listed = _eml(root, "data", "ls", "--json")  # the CLI reads the same PostgreSQL store
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == total


def test_concurrent_identical_uploads_make_one_sample(pg_cluster: PgCluster, tmp_path: Path) -> None:  # noqa: F811
    root, tokens, key = _project(pg_cluster, tmp_path)
    body = _csv(7)
    results: list[dict[str, object]] = []
    lock = threading.Lock()
    with live_server(root) as server:
        def upload(i: int) -> None:
            headers = {"x-api-key": key} if i % 2 else {"Authorization": f"Bearer {tokens[OWNER]}"}
            r = requests.post(f"{server.url}/api/training/files", timeout=120,
                              headers={**headers, "x-disallow-duplicates": "1"},
                              files=[("data", (f"same.{i}.csv", body, "text/csv"))])
            with lock:
                results.append({"status": r.status_code, **r.json()["files"][0]})

        _at_once(8, upload)
    assert len(results) == 8 and all(r["status"] == 200 for r in results), results
    ok = [r for r in results if r["success"]]
    assert len(ok) == 1, results
    assert all("duplicate" in str(r["error"]) for r in results if not r["success"]), results
    project = Project.open(root)
    assert [s.id for s in list_samples(project)] == [ok[0]["sampleId"]]
    audit = _eml(root, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
