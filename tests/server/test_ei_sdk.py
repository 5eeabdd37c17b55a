"""The official ``edgeimpulse`` Python SDK as the client of a real ``eml serve``: a folder of CSV, WAV and
Edge Impulse JSON files uploaded with ``upload_directory``, then listed by ``eml data ls --json``.

The SDK imports TensorFlow, so it is imported inside the test only (``eml --help`` and the other tests stay
fast). It reads its ingestion endpoint from ``EI_INGESTION_ENDPOINT`` when imported, and from
``edgeimpulse.INGESTION_ENDPOINT`` when it uploads: both are pointed at the live server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from server_helpers import OWNER, live_server, make_project

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.data.formats.wav import write_wav

S3 = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))


def _sig(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(60, 3)).astype(np.float32)


def _folder(root: Path) -> dict[str, list[str]]:
    """training/ holds CSV and JSON files, testing/ WAV and CBOR-free JSON; returns category -> file names."""
    made: dict[str, list[str]] = {"training": [], "testing": []}
    (root / "training").mkdir(parents=True)
    (root / "testing").mkdir()
    for i in range(2):
        (root / "training" / f"idle.{i}.csv").write_bytes(write_csv(_sig(i), S3, 50.0))
        (root / "training" / f"wave.{i}.json").write_bytes(
            encode(build_message(_sig(10 + i), S3, 50.0, device_name="board")))
    tone = (np.sin(np.arange(1600) / (3.0 + np.arange(1))) * 0.25).astype(np.float32).reshape(-1, 1)
    (root / "testing" / "yes.0.wav").write_bytes(write_wav(tone, 16000))
    (root / "testing" / "wave.9.json").write_bytes(encode(build_message(_sig(20), S3, 50.0)))
    for cat in made:
        made[cat] = sorted(p.name for p in (root / cat).iterdir())
    return made


def _eml_ls(project_root: Path) -> list[dict[str, object]]:
    eml = Path(sys.executable).with_name("eml")
    out = subprocess.run([str(eml), "data", "ls", "--json"], cwd=project_root, capture_output=True, text=True,
                         check=True, env={**os.environ, "EML_MEMBER": OWNER}, timeout=120)
    rows: list[dict[str, object]] = json.loads(out.stdout)
    return rows


def test_edgeimpulse_sdk_uploads_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    _project, _tokens, key = make_project(root)
    made = _folder(tmp_path / "upload")
    with live_server(root) as server:
        monkeypatch.setenv("EI_INGESTION_ENDPOINT", server.url)
        monkeypatch.setenv("EI_API_KEY", key)
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
        import edgeimpulse as ei
        from edgeimpulse.data import upload_directory

        monkeypatch.setattr(ei, "INGESTION_ENDPOINT", server.url)
        monkeypatch.setattr(ei, "API_KEY", key)
        for category in ("training", "testing"):
            res = upload_directory(str(tmp_path / "upload" / category), category=category)
            assert [f.error for f in res.fails] == []
            assert sorted(s.filename for s in res.successes) == made[category]
            assert all(s.success and s.sample_id for s in res.successes)
        # the same files again: the SDK refuses duplicates by default (x-disallow-duplicates)
        again = upload_directory(str(tmp_path / "upload" / "testing"), category="testing")
        assert not again.successes and len(again.fails) == 2
        assert all("duplicate" in str(f.error) for f in again.fails)

        monkeypatch.setattr(ei, "API_KEY", "eml_i_0000_wrong")
        wrong = upload_directory(str(tmp_path / "upload" / "training"), category="training")
        assert not wrong.successes and len(wrong.fails) == 4
        assert all(f.success is False and f.error == "invalid, revoked or expired credentials" for f in wrong.fails)
        import requests

        r = requests.post(f"{server.url}/api/training/files", headers={"x-api-key": "eml_i_0000_wrong"},
                          files=[("data", ("a.csv", b"x", "text/csv"))], timeout=30)
        assert r.status_code == 401

    rows = {str(r["name"]): r for r in _eml_ls(root)}
    expected = {"idle.0": ("idle", "training", "timeseries"), "idle.1": ("idle", "training", "timeseries"),
                "wave.0": ("wave", "training", "timeseries"), "wave.1": ("wave", "training", "timeseries"),
                "yes.0": ("yes", "testing", "audio"), "wave.9": ("wave", "testing", "timeseries")}
    assert {n: (r["label"], r["category"], r["kind"]) for n, r in rows.items()} == expected
    assert all(str(r["source"]).startswith("upload:") for r in rows.values())
