"""Start a job's worker process, and signal one: shared by the server's runner and ``eml ... --background``.

A worker runs ``python -m crisp_eml.jobs.worker ROOT JOB_ID`` in its own session (process group), so a
server's Ctrl-C or a closing terminal does not reach it, and stopping it can take its helper processes along.
Its output goes to ``.eml/jobs/<id>/worker.log``. The launcher claims the job for the worker's pid right after
starting it; the worker waits for that claim and exits at once if another process won the job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from crisp_eml.jobs import store

if TYPE_CHECKING:
    from crisp_eml.store.project import Project

WORKER_MODULE = "crisp_eml.jobs.worker"
LOG_NAME = "worker.log"


def start_worker(project: Project, job_id: str, *, reserved_by: int | None = None) -> subprocess.Popen[bytes] | None:
    """Start the worker of queued job ``job_id`` and claim the job for it; None (worker stopped) when another
    process claimed the job first or it was cancelled meanwhile."""
    folder = store.job_dir(project, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with open(folder / LOG_NAME, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, str(project.root), job_id], cwd=project.root,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, close_fds=True)
    try:
        won = store.claim(project, job_id, proc.pid, reserved_by=reserved_by)
    except BaseException:
        kill_group(proc.pid)
        proc.wait()
        raise
    if not won:
        kill_group(proc.pid)
        proc.wait()
        return None
    return proc


def start_detached(project: Project, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """``eml KIND ... --background``: submit the job as the acting member (parameters may name local files),
    start its worker and return the job at once; the worker outlives this process."""
    job = store.submit(project, kind, params, local=True, reserve=True)
    proc = start_worker(project, job["id"], reserved_by=os.getpid())
    if proc is not None:
        proc.returncode = 0  # never waited for here: the worker runs on after this process exits (no warning)
    return store.get_job(project, job["id"])


def signal_job(job: dict[str, Any], sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to a running job's worker when it runs on this host (False otherwise). The worker turns
    SIGTERM into 'cancelled' (cancel requested) or 'interrupted' (anything else)."""
    pid = job.get("pid")
    if job.get("status") != "running" or job.get("host") != store.hostname() or not store.pid_alive(pid, job["id"]):
        return False
    try:
        os.kill(int(pid), sig)  # type: ignore[arg-type]
    except OSError:
        return False
    return True


def kill_group(pid: int) -> None:
    """SIGKILL a worker and every process it started (its session's process group)."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
