"""The server's job runner: a daemon thread that starts queued jobs in worker processes, at most N at once.

``start()`` first marks as ``interrupted`` the jobs a dead process left active (:func:`store.recover`), then
polls for queued jobs (``wake()`` makes it look at once after a submit). Several server processes may each
run one: a job is claimed atomically, so only one of them starts it. A job reserved by ``eml ...
--background`` is left to the process that reserved it.

Shutdown policy (``stop()``): no new job is started; the workers this runner started get SIGTERM, which they
record as ``interrupted``; a worker still alive after ``grace_s`` is killed with its process group and its job
marked ``interrupted`` here. So a stopped or restarted server never leaves a job "running": resubmit it.
(Jobs started by ``eml ... --background`` are not the server's and run on.)
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from crisp_eml.jobs import launch, store
from crisp_eml.store.tables.server import JobRow

if TYPE_CHECKING:
    from crisp_eml.store.project import Project

log = logging.getLogger("crisp_eml.jobs")


class JobRunner:
    def __init__(self, project: Project, workers: int = 2, *, poll_s: float = 1.0, grace_s: float = 10.0) -> None:
        if workers < 1:
            raise ValueError("a job runner needs at least one worker")
        self.project, self.workers, self.poll_s, self.grace_s = project, workers, poll_s, grace_s
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Recover stale jobs, then start the runner thread; returns the ids marked interrupted."""
        gone = store.recover(self.project)
        if gone:
            log.warning("marked %d job(s) left active by a dead process as interrupted: %s", len(gone), gone)
        self._thread = threading.Thread(target=self._loop, name="crisp-eml-jobs", daemon=True)
        self._thread.start()
        return gone

    def wake(self) -> None:
        """Look for queued jobs now (after a submit)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop starting jobs; interrupt the running workers this runner started (see the module docstring)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            procs = dict(self._procs)
        for proc in procs.values():
            _send(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                launch.kill_group(proc.pid)
                proc.wait()
        for job_id in procs:
            store.finish(self.project, job_id, "interrupted", error={
                "code": "interrupted", "field": None, "message": "the server stopped while the job ran"})
        with self._lock:
            self._procs.clear()

    # -- operations --------------------------------------------------------------------------------------------
    def cancel(self, project: Project, job_id: str) -> dict[str, Any]:
        """Cancel a job as ``project``'s acting member (the job's member or one who manages members)."""
        job = store.request_cancel(project, job_id)
        launch.signal_job(job)
        self._wake.set()
        return job

    # -- the thread --------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._reap()
                self._launch()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the runner
                log.exception("job runner iteration failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _reap(self) -> None:
        """Forget finished workers; a worker that died without recording its end fails its job."""
        with self._lock:
            done = {j: p for j, p in self._procs.items() if p.poll() is not None}
            for j in done:
                del self._procs[j]
        for job_id, proc in done.items():
            if store.cancel_requested(self.project, job_id):
                store.finish(self.project, job_id, "cancelled", message="cancelled")
            else:
                store.finish(self.project, job_id, "failed", error={
                    "code": "worker_died", "field": None,
                    "message": f"the job's worker process ended without a result (exit status {proc.returncode}); "
                               f"see {store.job_dir(self.project, job_id) / launch.LOG_NAME}"})

    def _launch(self) -> None:
        with self._lock:
            free = self.workers - len(self._procs)
        if free <= 0 or self._stopping.is_set():
            return
        with self.project.read_session() as s:
            ids = list(s.execute(select(JobRow.id).where(JobRow.status == "queued", JobRow.pid.is_(None),
                                                         JobRow.cancel_requested.is_(False))
                                 .order_by(JobRow.created_at, JobRow.id).limit(free)).scalars())
        for job_id in ids:
            if self._stopping.is_set():
                return
            proc = launch.start_worker(self.project, job_id)
            if proc is not None:
                with self._lock:
                    self._procs[job_id] = proc


def _send(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(OSError):
        proc.send_signal(sig)
