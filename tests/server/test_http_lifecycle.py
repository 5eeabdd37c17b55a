"""The whole CRISP-EML lifecycle over HTTP only ("Done means" of issue 11), each step by the member whose persona
does it, on the real basic-motions recordings.

After ``api_for`` has made the project, its members and their tokens, every step is a request: requirements
(business leader), uploads (domain expert with a token, a device with the ingestion key), impulse, training job
followed over Server-Sent Events, test job and registration (data scientist), compile + verify job (embedded
developer), gate (business leader), production alias and signed bundle download (DevOps), refusals of members
whose persona may not, and finally the audit trail: every write names its member and the token it came through,
and the hash chain verifies.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Api, api_for, sse_events

from conftest import BASIC_MOTIONS

V1 = "/api/v1"
WAIT_S = 240.0  # per job: generous for two shared cores; a job that never ends fails the test after this
LABELS = ("badminton", "running", "standing", "walking")
TARGET = "cortex-m4f-80mhz"
SPEC: dict[str, Any] = {  # what 'eml impulse create --quick' picks for basic-motions: 2 s windows, spectral, small NN
    "input": {"type": "time-series", "window_size_ms": 2000.0, "window_increase_ms": 500.0, "frequency_hz": 10.0,
              "pad_zeros": True, "axes": ["accX", "accY", "accZ", "gyrX", "gyrY", "gyrZ"]},
    "blocks": [{"name": "spectral-analysis", "type": "spectral-analysis",
                "params": {"filter-type": "low", "fft-length": 16, "do-log": True, "filter-cutoff": 3.0,
                           "filter-order": 6}}],
    "learning": {"type": "nn-classifier", "params": {"layers": [{"type": "dense", "units": 20, "activation": "relu"},
                                                                {"type": "dense", "units": 10,
                                                                 "activation": "relu"}]}},
}


def _files(category: str, per_label: int, field: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The first ``per_label`` recordings of each activity in ``category`` as multipart parts named ``field``."""
    paths = [p for label in LABELS for p in sorted((BASIC_MOTIONS / category).glob(f"{label}.*.csv"))[:per_label]]
    assert len(paths) == per_label * len(LABELS), f"basic-motions/{category} is incomplete"
    return [(field, (p.name, p.read_bytes(), "text/csv")) for p in paths]


def _follow(api: Api, job_id: str, member: str) -> list[dict[str, Any]]:
    """Every event of the job's SSE stream, which ends by itself after the final status event. Bounded: the
    server sends a keep-alive comment at least every 15 s, so a job that never ends fails here after WAIT_S."""
    events = sse_events(api, f"{V1}/jobs/{job_id}/events", member, wait_s=WAIT_S)
    assert events and events[-1]["event"] == "status", f"stream of {job_id} ended without its final status"
    return events


def _run_job(api: Api, member: str, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Submit a job as ``member`` (202 at once), follow it over SSE to its end; (the job as stored, events)."""
    r = api.client.post(f"{V1}{path}", json=body, headers=api.headers(member))
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["member"] == member and job["status"] == "queued"
    events = _follow(api, job["id"], member)
    done = api.client.get(f"{V1}/jobs/{job['id']}", headers=api.headers(member)).json()
    final = events[-1]["data"]["status"]
    logs = [e["data"] for e in events if e["event"] == "log"]
    assert final == done["status"] == "succeeded", (final, done.get("error"), logs)
    return done, events


def _refused(api: Api, member: str, method: str, path: str, **kw: Any) -> None:
    r = api.client.request(method, f"{V1}{path}", headers=api.headers(member), **kw)
    assert r.status_code == 403, (member, method, path, r.status_code, r.text)
    assert r.json()["error"]["code"] == "forbidden" and "Traceback" not in r.text


@pytest.mark.slow
def test_whole_lifecycle_over_http_as_the_personas(tmp_path: Path) -> None:
    with api_for(tmp_path / "motion") as api:
        c, h = api.client, api.headers

        # -- business understanding: the business leader sets what the device must meet ---------------------------
        reqs = {"target": TARGET, "min_accuracy": 0.7, "max_ram": "64k", "max_flash": "64k",
                "min_samples_per_class": 3}
        _refused(api, "dana", "PUT", "/requirements", json={"changes": reqs})
        r = c.put(f"{V1}/requirements", json={"changes": reqs, "message": "pilot"}, headers=h("bob"))
        assert r.status_code == 200, r.text
        assert r.json()["author"] == "bob" and r.json()["target"] == TARGET

        # -- data: the domain expert uploads training recordings, a device the testing ones (ingestion key) --------
        _refused(api, "uma", "POST", "/samples", files=_files("training", 1, "files"), data={"category": "training"})
        r = c.post(f"{V1}/samples", headers=h("ed"), files=_files("training", 6, "files"),
                   data={"category": "training"})
        assert r.status_code == 200, r.text
        assert (r.json()["ingested"], r.json()["failed"]) == (24, 0)
        r = c.post("/api/testing/files", headers={"x-api-key": api.ingest_key}, files=_files("testing", 4, "data"))
        assert r.status_code == 200 and r.json()["success"], r.text
        assert len(r.json()["files"]) == 16 and all(f["success"] for f in r.json()["files"])
        listed = c.get(f"{V1}/samples", params={"limit": 100}, headers=h("uma")).json()
        assert listed["total"] == 40
        per = {(s["label"], s["category"]) for s in listed["items"]}
        assert per == {(lbl, cat) for lbl in LABELS for cat in ("training", "testing")}
        r = c.post(f"{V1}/datasets/versions", json={"message": "basic motions pilot"}, headers=h("dana"))
        assert r.status_code == 201, r.text

        # -- modelling: the data scientist designs the impulse and trains it as a background job ----------------
        _refused(api, "erin", "PUT", "/impulse", json={"spec": SPEC})
        r = c.put(f"{V1}/impulse", json={"spec": SPEC, "message": "quick spectral"}, headers=h("dana"))
        assert r.status_code == 200, r.text
        _refused(api, "bob", "POST", "/train", json={"epochs": 2})
        train, events = _run_job(api, "dana", "/train", {"epochs": 30, "seed": 1})
        statuses = [e["data"]["status"] for e in events if e["event"] == "status"]
        assert statuses == ["queued", "running", "succeeded"]
        epochs = [e["data"] for e in events if e["event"] == "progress"]
        assert len(epochs) >= 2 and epochs[-1]["total"] > 0 and "metrics" in epochs[-1], epochs[-1:]
        assert [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events)
        run_id = train["result"]["id"]
        assert c.get(f"{V1}/runs/{run_id}", headers=h("uma")).status_code == 200

        test, _ = _run_job(api, "dana", "/test", {"variant": "int8", "run": run_id})
        tested = test["result"]
        assert (tested["run"], tested["variant"], tested["labels"]) == (run_id, "int8", list(LABELS))
        assert tested["accuracy"] >= 0.7 and len(tested["per_sample"]) == 16

        _refused(api, "erin", "POST", "/models", json={"name": "motion", "run": run_id})
        r = c.post(f"{V1}/models", json={"name": "motion", "run": run_id, "description": "pilot"}, headers=h("dana"))
        assert r.status_code == 201, r.text
        uri = "models:/motion/1"
        assert r.json()["uri"] == uri

        # -- development & testing: the embedded developer compiles and verifies, the business leader gates ------
        _refused(api, "dana", "POST", "/compile", json={"model": uri})
        compiled, _ = _run_job(api, "erin", "/compile", {"model": uri, "vectors": 4})
        lib, verified_lib = compiled["result"]["compile"], compiled["result"]["verify"]
        assert verified_lib["ok"] is True
        libs = c.get(f"{V1}/compiles", params={"model": uri}, headers=h("uma")).json()
        assert libs["total"] == 1 and libs["results"][0]["actor"] == "erin"
        stored = libs["results"][0]
        assert (stored["out_dir"], stored["arena_bytes"]) == (lib["out_dir"], lib["arena_bytes"]), stored
        ram_needed = int(lib["ram_bytes"])
        checks = c.get(f"{V1}/verifications", headers=h("uma")).json()
        assert checks["total"] == 1 and checks["results"][0]["ok"] is True and checks["results"][0]["actor"] == "erin"

        _refused(api, "uma", "POST", "/gates", json={"model": uri})
        r = c.post(f"{V1}/gates", json={"model": uri}, headers=h("bob"))
        assert r.status_code == 201, r.text
        gate = r.json()
        assert gate["passed"], [row for row in gate["rows"] if not row["passed"]]
        rows = {row["requirement"]: row for row in gate["rows"]}
        assert rows["max_ram_bytes"]["measured"] == ram_needed and "compile" in rows["max_ram_bytes"]["source"]
        assert rows["min_accuracy"]["measured"] == pytest.approx(tested["accuracy"])
        assert "metrics.test.int8" in rows["min_accuracy"]["source"]

        # -- deployment: DevOps promotes the gated version and builds the signed bundle -------------------------
        _refused(api, "bob", "PUT", "/models/motion/aliases/production", json={"version": 1})
        r = c.put(f"{V1}/models/motion/aliases/production", json={"version": 1, "note": "pilot"},
                  headers=h("olga"))
        assert r.status_code == 200, r.text
        assert c.get(f"{V1}/models/motion", headers=h("uma")).json()["aliases"] == {"production": 1}
        deploy = {"model": "models:/motion@production", "target": TARGET}
        _refused(api, "dana", "POST", "/bundles", json=deploy)
        r = c.post(f"{V1}/bundles", json=deploy, headers=h("olga"))
        assert r.status_code == 201, r.text
        made = r.json()
        got = c.get(f"{V1}/bundles/{made['id']}/download", headers=h("erin"))
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        assert hashlib.sha256(got.content).hexdigest() == made["bundle_sha256"]
        with zipfile.ZipFile(io.BytesIO(got.content)) as zf:
            assert zf.testzip() is None
            info = json.loads(zf.read("BUNDLE.json"))
            model_bytes = zf.read("model.tflite")
            library = json.loads(zf.read("MANIFEST.json"))  # the compiled library's own manifest
            assert any(n.startswith("library/") for n in zf.namelist())
        assert info["model"]["uri"] == uri and info["model"]["run"] == run_id and info["target"] == TARGET
        assert info["gate"]["id"] == gate["id"] and info["gate"]["passed"]
        assert hashlib.sha256(model_bytes).hexdigest() == info["model"]["sha256"] == info["files"]["model.tflite"]
        assert library["model_sha256"] == info["model"]["sha256"] and library["ram_bytes"] == ram_needed

        # -- the trail: every write names its member and the token it came through; the chain holds ---------------
        trail = c.get(f"{V1}/audit", params={"limit": 1000}, headers=h("uma")).json()
        assert trail["total"] == len(trail["entries"])
        token_of = {name: tok.split("_")[2] for name, tok in api.tokens.items()}
        device = api.ingest_key.split("_")[2]  # the ingestion key acts for the member who created it
        wrote: dict[str, set[str]] = {}
        for e in trail["entries"]:
            via = (e.get("artifacts") or {}).get("via_token")
            if via == device:
                assert (e["action"], e["artifacts"]["category"]) == ("sample.ingest", "testing"), json.dumps(e)
                wrote.setdefault("device", set()).add(e["actor"])
            elif via is not None:
                assert via == token_of.get(e["actor"]), json.dumps(e)  # the token is the acting member's own
                wrote.setdefault(e["action"], set()).add(e["actor"])
        expected = {"requirements.set": {"bob"}, "sample.ingest": {"ed"}, "device": {"alice"},
                    "dataset.snapshot": {"dana"}, "impulse.set": {"dana"}, "job.submit": {"dana", "erin"},
                    "learn.train": {"dana"}, "learn.test": {"dana"}, "model.register": {"dana"},
                    "compiler.compile": {"erin"}, "compiler.verify": {"erin"}, "gate.evaluate": {"bob"},
                    "model.alias": {"olga"}, "model.deploy": {"olga"}}
        for action, members in expected.items():  # jobs record as their member too, from the worker process
            assert wrote.get(action) == members, (action, wrote.get(action), sorted(wrote))
        verified = c.get(f"{V1}/audit/verify", headers=h("uma"))
        assert verified.status_code == 200 and verified.json()["ok"], verified.json()
