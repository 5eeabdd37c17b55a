"""Background jobs over HTTP: submit (202 at once), read, list, cancel, and follow progress as Server-Sent Events.

``POST /jobs`` takes ``{"kind", "params"}``; ``POST /features/generate``, ``/train``, ``/test``, ``/compile``
(compile + verify), ``/profile`` and ``/report`` take the kind's parameters as the body. The work runs in
worker processes (:mod:`crisp_eml.jobs`), so the API stays responsive while a model trains. Parameters and the
member's permission are checked at submit time (400/403), never left to fail in the worker.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.jobs import launch, store
from crisp_eml.jobs.kinds import (
    CompileParams,
    FeaturesParams,
    ImpulseParams,
    ProfileParams,
    ReportParams,
    TestParams,
    TrainParams,
)
from crisp_eml.server.auth import context, member_project
from crisp_eml.server.errors import ApiError
from crisp_eml.store.project import Project

router = APIRouter(tags=["jobs"])
JOB_ID = PathParam(min_length=1, max_length=64)
HEARTBEAT_S = 15.0  # an SSE comment this often keeps proxies from closing an idle stream


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=64,
                      description="impulse, features, train, test, compile, profile, report")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's parameters (see its route)")


def _submit(request: Request, project: Project, kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    job = store.submit(project, kind, params)
    runner = context(request).jobs
    if runner is not None:
        runner.wake()
    return job


@router.post("/jobs", status_code=202)
def submit_job(body: JobRequest, request: Request, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Queue a background job; answers at once with the job (follow it with ``GET /jobs/{id}/events``)."""
    return _submit(request, project, body.kind, body.params)


def _params(body: BaseModel | None) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True) if body is not None else {}


@router.post("/features/generate", status_code=202)
def features_job(request: Request, body: FeaturesParams | None = None,
                 project: Project = Depends(member_project)) -> dict[str, Any]:
    """Generate features for every window (a ``features`` job, as ``eml features generate``)."""
    return _submit(request, project, "features", _params(body))


@router.post("/impulse/create", status_code=202)
def impulse_job(request: Request, body: ImpulseParams | None = None,
                project: Project = Depends(member_project)) -> dict[str, Any]:
    """Design the impulse from the data (an ``impulse`` job, as ``eml impulse create``): the new version is its
    result."""
    return _submit(request, project, "impulse", _params(body))


@router.post("/train", status_code=202)
def train_job(request: Request, body: TrainParams | None = None,
              project: Project = Depends(member_project)) -> dict[str, Any]:
    """Train the impulse's learning block (a ``train`` job, as ``eml train``); epochs stream as progress."""
    return _submit(request, project, "train", _params(body))


@router.post("/test", status_code=202)
def test_job(request: Request, body: TestParams | None = None,
             project: Project = Depends(member_project)) -> dict[str, Any]:
    """Test a run's model on the testing samples (a ``test`` job, as ``eml test``)."""
    return _submit(request, project, "test", _params(body))


@router.post("/compile", status_code=202)
def compile_job(body: CompileParams, request: Request, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Compile a registered model (``models:/NAME@ALIAS``) to C and verify it (a ``compile`` job)."""
    return _submit(request, project, "compile", _params(body))


@router.post("/profile", status_code=202)
def profile_job(body: ProfileParams, request: Request, project: Project = Depends(member_project)) -> dict[str, Any]:
    """RAM, flash and latency of a registered model on a target (a ``profile`` job, as ``eml profile``)."""
    return _submit(request, project, "profile", _params(body))


@router.post("/report", status_code=202)
def report_job(request: Request, body: ReportParams | None = None,
               project: Project = Depends(member_project)) -> dict[str, Any]:
    """Write the project report / model card into the job's folder (a ``report`` job, as ``eml report``)."""
    return _submit(request, project, "report", _params(body))


@router.get("/jobs")
def list_jobs(
    project: Project = Depends(member_project),
    status: str | None = Query(None, max_length=16, description="queued, running, succeeded, failed, cancelled, "
                                                                "interrupted"),
    kind: str | None = Query(None, max_length=64),
    member: str | None = Query(None, max_length=128),
    limit: int = Query(50, ge=1, le=store.MAX_PAGE),
    offset: int = Query(0, ge=0, le=2**31 - 1),
) -> dict[str, Any]:
    """Jobs, newest first: ``{"items", "total", "limit", "offset"}``."""
    return store.list_jobs(project, status=status, kind=kind, member=member, limit=limit, offset=offset)


@router.get("/jobs/{job_id}")
def get_job(job_id: str = JOB_ID, project: Project = Depends(member_project)) -> dict[str, Any]:
    """One job: status, progress (0..1), last message, result or error."""
    return store.get_job(project, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: str = JOB_ID, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Cancel a job (its member, or a member who manages members): a queued job ends at once, a running one
    stops within seconds (its status event says ``cancelled``)."""
    runner = context(request).jobs
    if runner is not None:
        return dict(runner.cancel(project, job_id))
    job = store.request_cancel(project, job_id)
    launch.signal_job(job)
    return job


def _after(last_event_id: str | None, after: int | None) -> int:
    if after is not None:
        return after
    if last_event_id is None or not last_event_id.strip():
        return 0
    try:
        value = int(last_event_id.strip())
    except ValueError as exc:
        raise ApiError(400, "Last-Event-ID must be an event id (an integer)", field="Last-Event-ID") from exc
    if value < 0:
        raise ApiError(400, "Last-Event-ID must be 0 or more", field="Last-Event-ID")
    return value


def _sse(event: dict[str, Any]) -> str:
    data = json.dumps({**event["data"], "at": event["at"]}, default=str, separators=(",", ":"))
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n"


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
async def job_events(
    request: Request, job_id: str = JOB_ID, project: Project = Depends(member_project),
    last_event_id: str | None = Header(None, max_length=32),
    after: int | None = Query(None, ge=0, le=2**62, description="start after this event id (as Last-Event-ID)"),
) -> StreamingResponse:
    """The job's events as Server-Sent Events (``event: progress|log|status``, ``data:`` JSON, ``id:`` for
    ``Last-Event-ID``); the stream ends after the final status event."""
    start = _after(last_event_id, after)
    job = await anyio.to_thread.run_sync(store.get_job, project, job_id)  # 404 before the stream starts
    poll = context(request).settings.sse_poll_s

    async def stream() -> AsyncIterator[str]:
        last, quiet = start, 0.0
        while True:
            events = await anyio.to_thread.run_sync(store.events_after, project, job["id"], last)
            for e in events:
                last = e["id"]
                yield _sse(e)
                if e["kind"] == "status" and e["data"].get("status") in store.FINAL:
                    return
            if events:
                quiet = 0.0
                continue
            now = await anyio.to_thread.run_sync(store.get_job, project, job["id"])
            if now["status"] in store.FINAL:  # ended before ``start`` (its final event was already seen)
                for e in await anyio.to_thread.run_sync(store.events_after, project, job["id"], last):
                    yield _sse(e)
                return
            if await request.is_disconnected():
                return
            quiet += poll
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await anyio.sleep(poll)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
