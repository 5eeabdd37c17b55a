"""The persisted job store: checked submits, an atomic claim, crash recovery by pid, cancel rights and states."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crisp_eml.core.errors import InputError, NotFoundError, PermissionDeniedError
from crisp_eml.jobs import store
from crisp_eml.store.project import Project
from crisp_eml.workspace.members import add_member


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project.init(tmp_path / "p", "jobs", member="alice").acting_as("alice")
    add_member(p, "dana", "data-scientist")
    add_member(p, "bob", "business-leader")
    return p


def _reaped() -> int:
    """The pid of a process that has ended (and been waited for)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_submit_checks_params_and_permission_and_is_audited(project: Project) -> None:
    job = store.submit(project.acting_as("dana"), "train", {"epochs": 3, "seed": 1})
    assert job["status"] == "queued" and job["member"] == "dana" and job["params"]["epochs"] == 3
    entry = project.audit_entries()[-1]
    assert entry.action == "job.submit" and entry.actor == "dana"
    assert entry.artifacts["kind"] == "train" and entry.artifacts["member"] == "dana"
    assert [e["data"]["status"] for e in store.events_after(project, job["id"])] == ["queued"]

    with pytest.raises(PermissionDeniedError):
        store.submit(project.acting_as("bob"), "train", {})
    with pytest.raises(InputError) as bad:
        store.submit(project, "train", {"epochs": 0})
    assert bad.value.field == "params.epochs"
    with pytest.raises(InputError) as extra:
        store.submit(project, "test", {"variant": "int4"})
    assert extra.value.field == "params.variant"
    with pytest.raises(InputError):
        store.submit(project, "no-such-kind", {})
    with pytest.raises(InputError) as path:  # over HTTP a job may not name server files
        store.submit(project, "compile", {"model": "/etc/passwd"})
    assert path.value.field == "params.model"
    with pytest.raises(InputError):
        store.submit(project, "report", {"out": "/tmp/x"})
    local = store.submit(project, "report", {"out": "rel/dir"}, local=True)
    assert Path(local["params"]["out"]).is_absolute()
    assert store.list_jobs(project)["total"] == 2  # nothing refused was stored


def test_claim_is_atomic_across_connections(project: Project) -> None:
    job = store.submit(project, "features", {})
    wins: list[int] = []
    start = threading.Barrier(6)

    def claim(pid: int) -> None:
        other = Project(project.root)  # its own engine and connections, as another process would have
        start.wait()
        if store.claim(other, job["id"], pid):
            wins.append(pid)

    threads = [threading.Thread(target=claim, args=(1000 + i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    got = store.get_job(project, job["id"])
    assert got["status"] == "running" and got["pid"] == wins[0] and got["host"] == store.hostname()
    assert not store.claim(project, job["id"], 42)  # a running job is never claimed again
    ended = store.submit(project, "features", {})
    assert store.finish(project, ended["id"], "failed", error={"code": "x", "message": "x", "field": None})
    assert not store.claim(project, ended["id"], 43)  # nor an ended one


def test_a_reserved_job_is_only_claimed_by_its_launcher(project: Project) -> None:
    job = store.submit(project, "features", {}, local=True, reserve=True)
    assert not store.claim(project, job["id"], 7)  # a runner (no reservation) leaves it alone
    assert store.claim(project, job["id"], 7, reserved_by=job["pid"])


def test_recover_marks_jobs_of_dead_processes_interrupted(project: Project) -> None:
    dead = store.submit(project, "features", {})
    store.claim(project, dead["id"], _reaped())
    live = store.submit(project, "features", {})
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", live["id"]])
    try:
        store.claim(project, live["id"], sleeper.pid)
        reused = store.submit(project, "features", {})  # a live pid that is not this job's worker
        store.claim(project, reused["id"], sleeper.pid)
        orphan = store.submit(project, "features", {}, local=True, reserve=True)
        with project.session() as s:  # its launcher died before starting the worker
            from crisp_eml.store.tables.server import JobRow

            row = s.get(JobRow, orphan["id"])
            assert row is not None
            row.pid = _reaped()
        waiting = store.submit(project, "features", {})

        gone = store.recover(project)

        assert sorted(gone) == sorted([dead["id"], reused["id"], orphan["id"]])
        states = {j: store.get_job(project, j)["status"] for j in (dead["id"], live["id"], waiting["id"])}
        assert states == {dead["id"]: "interrupted", live["id"]: "running", waiting["id"]: "queued"}
        err = store.get_job(project, dead["id"])["error"]
        assert err["code"] == "interrupted" and "ended without recording" in err["message"]
        assert store.events_after(project, dead["id"])[-1]["data"]["status"] == "interrupted"
        assert store.recover(project) == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_cancel_rights_and_states(project: Project) -> None:
    queued = store.submit(project.acting_as("dana"), "features", {})
    with pytest.raises(PermissionDeniedError):  # not hers, and bob does not manage members
        store.request_cancel(project.acting_as("bob"), queued["id"])
    with pytest.raises(NotFoundError):  # the API takes whole ids only
        store.request_cancel(project.acting_as("dana"), queued["id"][:8])
    done = store.request_cancel(project.acting_as("dana"), queued["id"][:8], prefix=True)  # the CLI: a prefix
    assert done["status"] == "cancelled" and done["cancel_requested"]
    assert project.audit_entries()[-1].action == "job.cancel"
    assert not store.claim(project, queued["id"], 5)

    running = store.submit(project.acting_as("dana"), "features", {})
    store.claim(project, running["id"], 5)
    flagged = store.request_cancel(project, running["id"])  # the owner manages members
    assert flagged["status"] == "running" and store.cancel_requested(project, running["id"])
    assert store.finish(project, running["id"], "cancelled")
    assert not store.finish(project, running["id"], "succeeded", result={})  # a final state is final
    assert store.get_job(project, running["id"])["status"] == "cancelled"
    with pytest.raises(NotFoundError):
        store.request_cancel(project, "feedface00000000")


def test_events_progress_and_listing(project: Project) -> None:
    job = store.submit(project, "features", {})
    store.claim(project, job["id"], 5)
    store.append_events(project, job["id"], [("log", {"line": "start"}),
                                             ("progress", {"done": 3, "total": 4, "message": "s3"})])
    got = store.get_job(project, job["id"])
    assert got["progress"] == pytest.approx(0.75) and got["message"] == "s3"
    evs = store.events_after(project, job["id"])
    assert [e["kind"] for e in evs] == ["status", "status", "log", "progress"]
    assert [e["kind"] for e in store.events_after(project, job["id"], evs[1]["id"])] == ["log", "progress"]
    store.submit(project.acting_as("dana"), "train", {})
    page = store.list_jobs(project, member="dana")
    assert page["total"] == 1 and page["items"][0]["kind"] == "train"
    assert store.list_jobs(project, status="running")["items"][0]["id"] == job["id"]
    assert len(store.list_jobs(project, limit=1)["items"]) == 1
    with pytest.raises(InputError):
        store.list_jobs(project, status="sleeping")
    with pytest.raises(InputError):
        store.list_jobs(project, limit=0)
