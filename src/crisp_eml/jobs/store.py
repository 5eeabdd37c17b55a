"""Persisted jobs: submit, read, list, claim, events, final states, cancel requests and crash recovery.

Every state change is one short transaction on the ``jobs`` / ``job_events`` tables, written so that several
processes (server workers, the CLI, job workers) can race safely: a claim is a single conditional ``UPDATE``
(queued -> running) that only one of them wins, and a final state is written only over a job still active.

Life of a job: ``queued`` -> ``running`` -> ``succeeded`` | ``failed`` | ``cancelled`` | ``interrupted``. A
queued job may be *reserved* by the process that submitted it (``pid`` set while queued: ``eml ...
--background`` launching its own worker), so a server's runner leaves it alone while that process lives.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from crisp_eml.core.errors import (
    EmlError,
    InputError,
    NotFoundError,
)
from crisp_eml.core.paging import check_page
from crisp_eml.core.personas import Permission
from crisp_eml.jobs.kinds import kind_of, validate
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.server import JobEventRow, JobRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crisp_eml.store.project import Project

ACTIVE = ("queued", "running")
FINAL = ("succeeded", "failed", "cancelled", "interrupted")
STATUSES = ACTIVE + FINAL
EVENT_KINDS = ("progress", "log", "status")
MAX_PAGE = 500
JOBS_DIR = "jobs"


def hostname() -> str:
    return socket.gethostname()[:255]


def job_dir(project: Project, job_id: str) -> Path:
    """The job's own folder (outputs of jobs that name none, the worker's log)."""
    return project.state_dir / JOBS_DIR / job_id


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def job_dict(row: JobRow) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "status": row.status, "member": row.member, "params": row.params,
            "progress": row.progress, "message": row.message, "result": row.result, "error": row.error,
            "cancel_requested": bool(row.cancel_requested), "pid": row.pid, "host": row.host,
            "created_at": _iso(row.created_at), "started_at": _iso(row.started_at),
            "finished_at": _iso(row.finished_at)}


def error_of(exc: BaseException) -> dict[str, Any]:
    """The ``{"code", "message", "field"}`` a job failed with."""
    if isinstance(exc, EmlError):
        return {"code": exc.code, "message": str(exc), "field": getattr(exc, "field", None)}
    return {"code": "internal", "message": f"internal error: {type(exc).__name__}: {exc}"[:2000], "field": None}


def _event(s: Session, job_id: str, kind: str, data: dict[str, Any]) -> None:
    s.add(JobEventRow(job_id=job_id, kind=kind, data=data))


# -- submit and read -------------------------------------------------------------------------------------------
def submit(project: Project, kind: str, params: dict[str, Any] | None = None, *, local: bool = False,
           reserve: bool = False) -> dict[str, Any]:
    """Queue a job of ``kind`` as the acting member, after checking its parameters and the member's permission
    (both fail here, never later in the worker). Audited as ``job.submit``.

    ``local``: submitted by the CLI on this machine (parameters may name files). ``reserve``: this process will
    launch the worker itself (:func:`crisp_eml.jobs.launch.start_detached`); a runner leaves the job alone."""
    k = kind_of(kind)
    clean = validate(k, params, local=local)
    actor = k.authorize(project)
    job_id = secrets.token_hex(8)
    with project.session() as s:
        row = JobRow(id=job_id, kind=k.name, params=clean, member=actor.name, token_id=actor.token_id,
                     status="queued", message="queued", pid=os.getpid() if reserve else None,
                     host=hostname() if reserve else None)
        s.add(row)
        s.flush()
        _event(s, job_id, "status", {"status": "queued"})
        project.record(s, "job.submit", {"job": job_id, "kind": k.name, "member": actor.name}, actor=actor)
        return job_dict(row)


def _row(s: Session, job_id: str, prefix: bool = False) -> JobRow:
    row = s.get(JobRow, job_id) if len(job_id) <= 32 else None
    if row is None and prefix and 4 <= len(job_id) < 16:  # a unique prefix (the CLI)
        rows = list(s.execute(select(JobRow).where(JobRow.id.startswith(job_id, autoescape=True)).limit(2))
                    .scalars())
        row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise NotFoundError(f"no job {job_id!r}")
    return row


def get_job(project: Project, job_id: str, *, prefix: bool = False) -> dict[str, Any]:
    """One job by id (``prefix``: or by a unique prefix of at least 4 characters)."""
    with project.read_session() as s:
        return job_dict(_row(s, job_id, prefix))


def list_jobs(project: Project, *, status: str | None = None, kind: str | None = None, member: str | None = None,
              limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Jobs newest first, filtered, one page: ``{"items", "total", "limit", "offset"}``."""
    check_page(limit, offset, MAX_PAGE)
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; one of {list(STATUSES)}", field="status")
    where = [c for c in (JobRow.status == status if status else None, JobRow.kind == kind if kind else None,
                         JobRow.member == member if member else None) if c is not None]
    with project.read_session() as s:
        total = int(s.execute(select(func.count()).select_from(JobRow).where(*where)).scalar_one())
        rows = s.execute(select(JobRow).where(*where).order_by(JobRow.created_at.desc(), JobRow.id.desc())
                         .limit(limit).offset(offset)).scalars()
        return {"items": [job_dict(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def events_after(project: Project, job_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """The job's events with an id above ``after``, oldest first (404 for an unknown job)."""
    with project.read_session() as s:
        jid = _row(s, job_id).id
        rows = s.execute(select(JobEventRow).where(JobEventRow.job_id == jid, JobEventRow.id > after)
                         .order_by(JobEventRow.id).limit(limit)).scalars()
        return [{"id": r.id, "kind": r.kind, "at": _iso(r.at), "data": r.data} for r in rows]


# -- the worker's side -------------------------------------------------------------------------------------------
def append_events(project: Project, job_id: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Record events (``("progress", {"done", "total", "message", ...})``, ``("log", {"line"})``); the latest
    progress also goes on the job row (``progress`` 0..1 and ``message``)."""
    if not events:
        return
    with project.session() as s:
        row = s.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"no job {job_id!r}")
        for kind, data in events:
            if kind not in EVENT_KINDS:
                raise InputError(f"unknown job event kind {kind!r}", field="kind")
            _event(s, job_id, kind, data)
            if kind == "progress":
                total = data.get("total") or 0
                row.progress = min(1.0, max(0.0, float(data.get("done", 0)) / total)) if total else row.progress
                row.message = str(data.get("message", ""))[:2000]
            elif kind == "log":
                row.message = str(data.get("line", ""))[:2000]


def claim(project: Project, job_id: str, pid: int, *, reserved_by: int | None = None) -> bool:
    """Atomically move a queued job to running, owned by process ``pid`` on this host. Exactly one of several
    racing claimers wins (True). A job reserved by a process is claimable only with ``reserved_by`` = it."""
    owner = JobRow.pid.is_(None) if reserved_by is None else JobRow.pid == reserved_by
    with project.session() as s:
        done = s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == "queued", owner,
                                              JobRow.cancel_requested.is_(False))
                         .values(status="running", pid=pid, host=hostname(), started_at=utcnow(), message="running")
                         .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        _event(s, job_id, "status", {"status": "running", "pid": pid})
        return True


def finish(project: Project, job_id: str, status: str, *, result: dict[str, Any] | None = None,
           error: dict[str, Any] | None = None, message: str | None = None) -> bool:
    """Record a job's final state, only over a job still queued or running (False when it already ended)."""
    if status not in FINAL:
        raise ValueError(f"not a final status: {status}")
    text = message or (error or {}).get("message") or status
    with project.session() as s:
        done = s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status.in_(ACTIVE))
                         .values(status=status, result=result, error=error, finished_at=utcnow(),
                                 message=str(text)[:2000],
                                 progress=1.0 if status == "succeeded" else JobRow.progress)
                         .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        _event(s, job_id, "status", {"status": status, "error": error, "message": str(text)[:2000]})
        return True


def cancel_requested(project: Project, job_id: str) -> bool:
    with project.read_session() as s:
        row = s.get(JobRow, job_id)
        return bool(row is not None and row.cancel_requested)


# -- cancel and recovery -----------------------------------------------------------------------------------------
def request_cancel(project: Project, job_id: str, *, prefix: bool = False) -> dict[str, Any]:
    """Cancel a job: the member who submitted it, or a member who manages members. A queued job ends at once;
    a running one is flagged (its worker stops itself; see :func:`crisp_eml.jobs.launch.signal_job`). Audited."""
    actor = project.actor
    with project.session() as s:
        row = _row(s, job_id, prefix)
        if row.member != actor.name:
            actor = project.require(Permission.MANAGE_MEMBERS)
        if row.status in FINAL:
            return job_dict(row)
        project.record(s, "job.cancel", {"job": row.id, "kind": row.kind, "status": row.status}, actor=actor)
        row.cancel_requested = True
        if row.status == "queued":
            row.status, row.finished_at, row.message = "cancelled", utcnow(), f"cancelled by {actor.name}"
            _event(s, row.id, "status", {"status": "cancelled", "error": None, "message": row.message})
        else:
            _event(s, row.id, "log", {"line": f"cancel requested by {actor.name}"})
        s.flush()
        return job_dict(row)


def pid_alive(pid: int | None, job_id: str | None = None) -> bool:
    """Whether process ``pid`` on this host still runs (a zombie does not). With ``job_id``, on a system with
    /proc, also that it is that job's worker (a pid reused by another program after a reboot is not)."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            return False
        if job_id is not None:
            return job_id.encode() in (proc / "cmdline").read_bytes()
    except OSError:
        pass
    return True


def recover(project: Project) -> list[str]:
    """Mark as ``interrupted`` the jobs a dead process left active on this host: running jobs whose worker is
    gone, and queued jobs reserved by a launcher that died before starting its worker. Returns their ids."""
    host = hostname()
    with project.read_session() as s:
        rows = list(s.execute(select(JobRow.id, JobRow.status, JobRow.pid, JobRow.host)
                              .where(JobRow.status.in_(ACTIVE))).all())
    gone: list[str] = []
    for jid, status, pid, on in rows:
        if status == "queued" and pid is None:
            continue  # unreserved: a runner will start it
        if on not in (None, host):
            continue  # another machine's process: it cannot be checked from here
        alive = pid_alive(pid, jid if status == "running" else None)
        if not alive and finish(project, jid, "interrupted", error={
                "code": "interrupted", "field": None,
                "message": f"the process that ran this job (pid {pid} on {on or host}) ended without recording "
                           "a result (server or machine restarted, or the worker was killed)"}):
            gone.append(jid)
    return gone
