"""Background jobs over HTTP and from the CLI: a real job's progress over Server-Sent Events, permission and
parameter checks at submit time, cancelling a training in its worker, recovery of jobs a dead process left
"running", and ``eml train --background``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from server_helpers import Api, sse_events

from crisp_eml.jobs import store
from crisp_eml.server.app import create_app
from crisp_eml.server.settings import ServerSettings
from crisp_eml.workspace.impulse import create_impulse
from crisp_eml.workspace.ingest import ingest_paths
from crisp_eml.workspace.synth import synthesize

URL = "/api/v1"
WAIT_S = 300.0  # generous: CI has two cores


def _motion(api: Api, tmp: Path) -> None:
    """20 synthetic motion recordings (4 labels) and a quick impulse."""
    synthesize(tmp / "motion", kind="motion", size=1)
    assert not ingest_paths(api.project, [tmp / "motion"]).failures
    create_impulse(api.project, quick=True)


def _sse(api: Api, job_id: str, member: str = "uma", **headers: str) -> list[dict[str, Any]]:
    """Every event of the job's stream (which ends by itself after the final status)."""
    return sse_events(api, f"{URL}/jobs/{job_id}/events", member, **headers)


def _wait(api: Api, job_id: str, until: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job = store.get_job(api.project, job_id)
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never got there: {store.get_job(api.project, job_id)}")


def test_features_job_streams_progress_until_its_final_status(api: Api, tmp_path: Path) -> None:
    _motion(api, tmp_path)
    r = api.client.post(f"{URL}/features/generate", headers=api.headers("dana"), json={"layer": "raw"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["kind"] == "features" and job["member"] == "dana"

    events = _sse(api, job["id"])

    statuses = [e["data"]["status"] for e in events if e["event"] == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    assert events[-1]["event"] == "status"  # the stream ends with the final status
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 20
    assert [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events)
    done = api.client.get(f"{URL}/jobs/{job['id']}", headers=api.headers("bob")).json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    assert done["result"]["samples"] == 20 and done["result"]["windows"] > 0
    # a reconnecting client resumes after the last event it saw
    again = _sse(api, job["id"], **{"Last-Event-ID": events[1]["id"]})
    assert [e["id"] for e in again] == [e["id"] for e in events[2:]]
    listed = api.client.get(f"{URL}/jobs", params={"status": "succeeded", "kind": "features"},
                            headers=api.headers("uma")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]
    submit = [e for e in api.project.audit_entries() if e.action == "job.submit"]
    assert submit[-1].actor == "dana" and submit[-1].artifacts["kind"] == "features"
    assert submit[-1].artifacts["via_token"] == api.tokens["dana"].split("_")[2]


def test_impulse_job_designs_the_impulse_from_the_data(api: Api, tmp_path: Path) -> None:
    from crisp_eml.workspace.impulse import current_version

    synthesize(tmp_path / "motion", kind="motion", size=1)
    assert not ingest_paths(api.project, [tmp_path / "motion"]).failures
    assert api.client.get(f"{URL}/impulse", headers=api.headers("dana")).status_code == 404
    refused = api.client.post(f"{URL}/impulse/create", headers=api.headers("bob"), json={})
    assert refused.status_code == 403  # a business leader does not design impulses
    bad = api.client.post(f"{URL}/impulse/create", headers=api.headers("dana"), json={"window_size_ms": -5})
    assert bad.status_code in (400, 422) and "window_size_ms" in bad.text
    r = api.client.post(f"{URL}/impulse/create", headers=api.headers("dana"), json={"message": "from the data"})
    assert r.status_code == 202 and r.json()["kind"] == "impulse", r.text
    events = _sse(api, r.json()["id"])
    assert events[-1]["data"]["status"] == "succeeded", events[-3:]
    done = store.get_job(api.project, r.json()["id"])
    v = current_version(api.project)
    assert done["result"] == {"version": 1, "hash": v.hash, "blocks": [b.type for b in v.spec.blocks]}
    created = [e for e in api.project.audit_entries() if e.action == "impulse.create"]
    assert len(created) == 1 and created[0].actor == "dana"


def test_permission_and_parameters_are_checked_at_submit_time(api: Api) -> None:
    h = api.headers
    assert api.client.post(f"{URL}/train", json={}).status_code == 401
    for member, url, body in (("bob", "/train", {}), ("erin", "/train", {}), ("uma", "/features/generate", {}),
                              ("dana", "/compile", {"model": "models:/m@production"}),
                              ("bob", "/jobs", {"kind": "test", "params": {}})):
        r = api.client.post(URL + url, json=body, headers=h(member))
        assert r.status_code == 403, (member, url, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    bad = api.client.post(f"{URL}/jobs", json={"kind": "train", "params": {"epochs": 0}}, headers=h("dana"))
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "params.epochs"
    assert api.client.post(f"{URL}/train", json={"epochs": "many"}, headers=h("dana")).status_code == 422
    assert api.client.post(f"{URL}/train", json={"bogus": 1}, headers=h("dana")).status_code == 422
    assert api.client.post(f"{URL}/jobs", json={"kind": "mine", "params": {}}, headers=h()).status_code == 400
    path = api.client.post(f"{URL}/compile", json={"model": "/etc/passwd"}, headers=h("erin"))
    assert path.status_code == 400 and path.json()["error"]["field"] == "params.model"
    assert api.client.post(f"{URL}/report", json={"out": "/tmp/x"}, headers=h()).status_code == 400
    assert api.client.get(f"{URL}/jobs", headers=h()).json()["total"] == 0  # nothing refused was queued
    assert api.client.get(f"{URL}/jobs/feedface00000000", headers=h()).status_code == 404
    assert api.client.get(f"{URL}/jobs/feedface00000000/events", headers=h()).status_code == 404
    assert api.client.get(f"{URL}/jobs", params={"limit": 0}, headers=h()).status_code == 422
    assert api.client.get(f"{URL}/jobs", params={"status": "sleeping"}, headers=h()).status_code == 400


def test_cancel_stops_a_training_in_its_worker(api: Api, tmp_path: Path) -> None:
    _motion(api, tmp_path)
    r = api.client.post(f"{URL}/train", json={"epochs": 5000, "patience": 0}, headers=api.headers("dana"))
    assert r.status_code == 202, r.text
    jid = r.json()["id"]
    deadline = time.monotonic() + WAIT_S
    while not any(e["kind"] == "progress" for e in store.events_after(api.project, jid)):
        assert time.monotonic() < deadline and store.get_job(api.project, jid)["status"] in store.ACTIVE
        time.sleep(0.2)
    # the API answers while the model trains (the work is in another process)
    assert api.client.get(f"{URL}/jobs", headers=api.headers("uma")).status_code == 200
    assert api.client.post(f"{URL}/jobs/{jid}/cancel", headers=api.headers("erin")).status_code == 403
    c = api.client.post(f"{URL}/jobs/{jid}/cancel", headers=api.headers("dana"))
    assert c.status_code == 200 and c.json()["cancel_requested"]

    events = _sse(api, jid)

    assert events[-1]["event"] == "status" and events[-1]["data"]["status"] == "cancelled"
    job = api.client.get(f"{URL}/jobs/{jid}", headers=api.headers()).json()
    assert job["status"] == "cancelled" and job["result"] is None and job["progress"] < 1.0
    assert any(e.action == "job.cancel" and e.actor == "dana" for e in api.project.audit_entries())
    deadline = time.monotonic() + 30
    while store.pid_alive(job["pid"], jid):  # the worker is gone too
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _reaped_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_job_left_running_by_a_dead_process_is_interrupted_after_a_restart(api: Api) -> None:
    job = store.submit(api.project, "features", {}, reserve=True)  # reserved: the running app's runner keeps off
    assert store.claim(api.project, job["id"], _reaped_pid(), reserved_by=os.getpid())  # its worker then died
    assert store.get_job(api.project, job["id"])["status"] == "running"

    with TestClient(create_app(ServerSettings(root=api.root)), raise_server_exceptions=False) as client:
        got = client.get(f"{URL}/jobs/{job['id']}", headers=api.headers("uma")).json()
        assert got["status"] == "interrupted" and got["error"]["code"] == "interrupted"
        with client.stream("GET", f"{URL}/jobs/{job['id']}/events", headers=api.headers()) as r:
            lines = [x for x in r.iter_lines() if x.startswith("data: ")]
        assert json.loads(lines[-1][6:])["status"] == "interrupted"


def _eml(root: Path, *args: str, member: str = "dana") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EML_MEMBER": member}
    env.pop("EML_PROJECT", None)
    return subprocess.run([sys.executable, "-m", "crisp_eml.cli.main", *args], cwd=root, env=env, text=True,
                          capture_output=True, timeout=WAIT_S)


def test_cli_train_background_returns_a_job_id_and_the_job_finishes(api: Api, tmp_path: Path) -> None:
    _motion(api, tmp_path)
    out = _eml(api.root, "train", "--background", "--learning", "anomaly-kmeans", "--json")
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert job["kind"] == "train" and job["member"] == "dana" and job["status"] in ("running", "succeeded")
    assert job["params"]["learning"] == "anomaly-kmeans"

    done = _wait(api, job["id"], lambda j: j["status"] in store.FINAL)

    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["learning_type"] == "anomaly-kmeans" and done["result"]["id"]
    shown = _eml(api.root, "jobs", "show", job["id"][:8], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["result"]["id"] == done["result"]["id"]
    logs = _eml(api.root, "jobs", "logs", job["id"])
    assert logs.returncode == 0 and "status succeeded" in logs.stdout
    listed = json.loads(_eml(api.root, "jobs", "ls", "--kind", "train", "--json").stdout)
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    refused = _eml(api.root, "train", "--background", "--json", member="bob")
    assert refused.returncode == 6 and "may not train" in refused.stderr
