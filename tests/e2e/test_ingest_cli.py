"""``eml ingest`` / ``eml data ...`` end to end: real basic-motions data, signed Edge Impulse files, a
SIGKILL in the middle of a batch, export round trip, synth, rm and gc through the CLI."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cbor2
import numpy as np
import pytest
from cli_helpers import init_project, register_once

from conftest import BASIC_MOTIONS
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store import audit
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture()
def run_cli(run_cli, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The shared in-process runner, with the sub-commands registered once for this test: ``main()``
    registers them on every call, which makes many calls in one process slower and slower."""
    return register_once(run_cli, monkeypatch)


_init = init_project


def test_basic_motions(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not BASIC_MOTIONS.is_dir():
        pytest.fail(f"test data missing: {BASIC_MOTIONS}")
    proj = _init(run_cli, tmp_path)
    code, out, err = run_cli(["ingest", str(BASIC_MOTIONS / "training"), str(BASIC_MOTIONS / "testing")], cwd=proj)
    assert code == 0, err
    code, out, err = run_cli(["data", "ls", "--json"], cwd=proj)
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 80
    for key in ("id", "name", "label", "category", "sensors", "frequency_hz", "length", "hash"):
        assert all(key in r for r in rows)
    assert Counter(r["label"] for r in rows) == {"badminton": 20, "running": 20, "standing": 20, "walking": 20}
    assert Counter(r["category"] for r in rows) == {"training": 40, "testing": 40}
    assert all(r["category"] == "training" for r in rows if "/training/" in r["source"])
    assert {len(r["sensors"]) for r in rows} == {6} and {r["frequency_hz"] for r in rows} == {10.0}
    assert {r["length"] for r in rows} == {100}
    code, out, _ = run_cli(["data", "ls", "--json", "--category", "testing", "--label", "running"], cwd=proj)
    assert len(json.loads(out)) == 10
    code, out, _ = run_cli(["data", "show", rows[0]["id"], "--json"], cwd=proj)
    assert code == 0 and json.loads(out)["hash"] == rows[0]["hash"]
    code, _, err = run_cli(["ingest", str(BASIC_MOTIONS / "training" / "running.01.csv")], cwd=proj)
    assert code == 2 and "duplicate" in err


def _spec_message() -> dict:  # type: ignore[type-arg]
    return {"protected": {"ver": "v1", "alg": "HS256", "iat": 1700000000}, "signature": "0" * 64,
            "payload": {"device_name": "aa:bb", "device_type": "NANO33BLE", "interval_ms": 16,
                        "sensors": [{"name": "accX", "units": "m/s2"}, {"name": "accY", "units": "m/s2"}],
                        "values": [[0.5, 9.8], [0.6, 9.7], [0.55, 9.81]]}}


def test_signed_json_and_cbor_and_tampered(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proj = _init(run_cli, tmp_path)
    d = tmp_path / "signed"
    d.mkdir()
    msg = _spec_message()
    body = json.dumps(msg).encode()
    sig = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    (d / "wave.dev1.json").write_bytes(json.dumps(dict(msg, signature=sig)).encode())
    msg2 = json.loads(json.dumps(msg))
    msg2["payload"]["values"][0][0] = 0.7
    cbody = cbor2.dumps(msg2)
    csig = hmac.new(KEY.encode(), cbody, hashlib.sha256).hexdigest()
    (d / "wave.dev2.cbor").write_bytes(cbor2.dumps(dict(msg2, signature=csig)))
    code, out, err = run_cli(["ingest", str(d), "--hmac-key", KEY, "--json"], cwd=proj)
    assert code == 0, err
    assert json.loads(out)["ingested"] == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    tampered = json.loads(json.dumps(dict(msg, signature=sig)))
    tampered["payload"]["values"][1][1] = 1.0
    (bad / "wave.t1.json").write_bytes(json.dumps(tampered).encode())
    ct = cbor2.loads(cbor2.dumps(dict(msg2, signature=csig)))
    ct["payload"]["interval_ms"] = 20
    (bad / "wave.t2.cbor").write_bytes(cbor2.dumps(ct))
    code, out, err = run_cli(["ingest", str(bad), "--hmac-key", KEY, "--json"], cwd=proj)
    assert code == 2
    report = json.loads(out)
    assert report["ingested"] == 0 and report["failed"] == 2
    assert all("HMAC signature does not match" in f["reason"] for f in report["failures"])
    code, out, _ = run_cli(["data", "ls", "--json"], cwd=proj)
    assert len(json.loads(out)) == 2


def _count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
        return int(con.execute("SELECT count(*) FROM samples").fetchone()[0])


def test_sigkill_mid_batch_leaves_consistent_store(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proj = _init(run_cli, tmp_path)
    data = tmp_path / "many"
    data.mkdir()
    rng = np.random.default_rng(0)
    n = 400
    for i in range(n):
        arr = rng.normal(size=(30, 3)).astype(np.float32)
        (data / f"idle.{i:04d}.csv").write_bytes(write_csv(arr, (Sensor("x"), Sensor("y"), Sensor("z")), 50.0))
    cmd = [sys.executable, "-m", "crisp_eml.cli.main", "ingest", str(data)]
    proc = subprocess.Popen(cmd, cwd=proj, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = proj / ".eml" / "metadata.db"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if _count(db) >= 25:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "ingest finished before it could be killed; make the batch larger"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    committed = _count(db)
    assert 25 <= committed < n
    project = Project(proj)
    with project.session() as s:
        rows = list(s.query(SampleRow))
        assert audit.verify(s) == []
    assert len(rows) == committed
    assert all(project.blobs.verify(r.hash) for r in rows)
    ingests = [e for e in project.audit_entries() if e.action == "sample.ingest"]
    assert sorted(e.artifacts["sample"] for e in ingests) == sorted(r.id for r in rows)
    # re-running completes the batch; orphans of the killed run are collected
    code, out, err = run_cli(["ingest", str(data), "--skip-duplicates", "--json"], cwd=proj)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["ingested"] == n - committed and rep["skipped_duplicates"] == committed and rep["failed"] == 0
    code, out, err = run_cli(["data", "gc", "--json"], cwd=proj)
    assert code == 0, err
    with project.session() as s:
        hashes = {r.hash for r in s.query(SampleRow)}
    assert len(hashes) == n and set(project.blobs) == hashes


def test_export_synth_rm_gc_cli(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proj = _init(run_cli, tmp_path)
    code, out, err = run_cli(["data", "synth", str(tmp_path / "syn"), "--size", "1", "--seed", "3", "--json"])
    assert code == 0, err
    assert len(json.loads(out)["files"]) == 4 * 5
    code, _, err = run_cli(["ingest", str(tmp_path / "syn"), "-m", "origin=synth"], cwd=proj)
    assert code == 0, err
    code, out, _ = run_cli(["data", "ls", "--json"], cwd=proj)
    samples = json.loads(out)
    assert {s["frequency_hz"] for s in samples} == {62.5}
    code, out, err = run_cli(["data", "export", str(tmp_path / "exp"), "--format", "ei-cbor", "--json"], cwd=proj)
    assert code == 0, err
    assert json.loads(out)["written"] == 20
    assert len(list((tmp_path / "exp").rglob("*.cbor"))) == 20
    code, _, err = run_cli(["data", "export", str(tmp_path / "x"), "--format", "mp3"], cwd=proj)
    assert code == 2 and "unknown export format" in err
    code, out, err = run_cli(["data", "rm", samples[0]["id"], "--json"], cwd=proj)
    assert code == 0 and json.loads(out)["removed"] == samples[0]["id"]
    code, _, err = run_cli(["data", "rm", samples[0]["id"]], cwd=proj)
    assert code == 3 and "no sample" in err
    code, out, err = run_cli(["data", "gc", "--min-age", "0", "--json"], cwd=proj)
    assert code == 0 and json.loads(out)["removed"] == 1
    code, _, err = run_cli(["ingest", str(tmp_path / "nothing-here")], cwd=proj)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(["ingest", str(tmp_path / "syn"), "--frequency", "-3"], cwd=proj)
    assert code == 2 and "absurd frequency" in err and "Traceback" not in err
