"""One job in its own process: ``python -m crisp_eml.jobs.worker PROJECT_ROOT JOB_ID``.

Started by :mod:`crisp_eml.jobs.launch`, it waits until the launcher has claimed the job for it, opens the
project acting as the member who submitted the job (with that token's scopes), runs the kind's use case and
records the final state. Progress and log lines go to the job's events from a writer thread (a use case may
call back while it holds the database's write lock; the writer simply waits its turn), which also watches for
a cancel request. SIGTERM stops the job: recorded as ``cancelled`` when a cancel was requested, else as
``interrupted`` (the server shutting down). This is the only process that imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from crisp_eml.core.errors import EmlError
from crisp_eml.jobs import store
from crisp_eml.jobs.kinds import kind_of
from crisp_eml.store.project import Project
from crisp_eml.store.tables.server import ApiTokenRow, JobRow

CLAIM_WAIT_S = 30.0  # how long a worker waits for its launcher's claim
PROGRESS_EVERY_S = 0.25  # at most this often a progress event (the last one of a stage always)
CANCEL_POLL_S = 1.0
CANCEL_GRACE_S = 15.0  # after a cancel request, how long the job may take to stop before it is killed


class JobStopped(BaseException):
    """Raised in the job's thread by SIGTERM: the job stops where it is (transactions roll back)."""


class Events:
    """The :class:`~crisp_eml.jobs.kinds.Report` a runner gets: queues events for the writer thread."""

    def __init__(self, project: Project, job_id: str, folder: Path) -> None:
        self.project, self.job_id, self.dir = project, job_id, folder
        self._q: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._last_progress = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name=f"job-{job_id}-events", daemon=True)
        self._thread.start()

    def progress(self, done: int, total: int, message: str = "", **extra: Any) -> None:
        now = time.monotonic()
        if not extra and 0 < done < total and now - self._last_progress < PROGRESS_EVERY_S:
            return  # a bare progress tick may be skipped; one carrying data (an epoch's metrics) never is
        self._last_progress = now
        self._q.put(("progress", {"done": int(done), "total": int(total), "message": str(message)[:500],
                                  **_jsonable(extra)}))

    def log(self, line: str) -> None:
        self._q.put(("log", {"line": str(line)[:2000]}))
        print(line, flush=True)

    def _drain(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        while True:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                return out

    def _write_loop(self) -> None:
        next_check, cancel_at = 0.0, None
        while not self._stop.is_set():
            self._stop.wait(0.2)
            try:
                store.append_events(self.project, self.job_id, self._drain())
                now = time.monotonic()
                if cancel_at is None and now >= next_check:
                    next_check = now + CANCEL_POLL_S
                    if store.cancel_requested(self.project, self.job_id):
                        cancel_at = now
                        os.kill(os.getpid(), signal.SIGTERM)
                if cancel_at is not None and now - cancel_at > CANCEL_GRACE_S:
                    store.finish(self.project, self.job_id, "cancelled", message="cancelled (stopped by force)")
                    os.killpg(os.getpgrp(), signal.SIGKILL)
            except Exception:  # noqa: BLE001 - events are best effort; the job goes on
                traceback.print_exc()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            store.append_events(self.project, self.job_id, self._drain())
        except Exception:  # noqa: BLE001
            traceback.print_exc()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _wait_for_claim(project: Project, job_id: str) -> JobRow | None:
    """The job once claimed for this process; None if another process has it (or it ended)."""
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:
        with project.read_session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                return None
            if row.status == "running" and row.pid == os.getpid():
                return row
            if row.status != "queued" or time.monotonic() > deadline:
                return None
        time.sleep(0.05)


def _acting(project: Project, row: JobRow) -> Project:
    scopes: frozenset[str] | None = None
    if row.token_id:
        with project.read_session() as s:
            tok = s.get(ApiTokenRow, row.token_id)
            scopes = frozenset(tok.scopes) if tok is not None and tok.scopes else None
    return project.acting_as(row.member, token_id=row.token_id, scopes=scopes)


def _stop(_sig: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough
    raise JobStopped


def run(root: Path, job_id: str) -> int:
    base = Project(root)
    row = _wait_for_claim(base, job_id)
    if row is None:
        return 0
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    folder = store.job_dir(base, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    events = Events(base, job_id, folder)
    status, result, error = "failed", None, None
    try:
        project = _acting(base, row)
        kind = kind_of(row.kind)
        events.log(f"{kind.name} job {job_id} started by {row.member} (pid {os.getpid()})")
        result = _jsonable(kind.run(project, dict(row.params or {}), events))
        status = "succeeded"
    except JobStopped:
        status = "cancelled" if store.cancel_requested(base, job_id) else "interrupted"
        error = {"code": status, "message": f"job {status}", "field": None}
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
        if not isinstance(exc, EmlError):
            traceback.print_exc()
        error = store.error_of(exc)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        events.close()
    store.finish(base, job_id, status, result=result, error=error)
    print(f"job {job_id}: {status}", flush=True)
    return 0


WORKER_NICE = 10  # a job yields the CPU to the server: training must not slow every API request down


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m crisp_eml.jobs.worker PROJECT_ROOT JOB_ID", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):  # best effort: a lower CPU priority than the API
        os.nice(WORKER_NICE)
    return run(Path(args[0]), args[1])


if __name__ == "__main__":
    sys.exit(main())
