"""The device's side of remote capture: say hello, long-poll for commands, then start, stream and complete (or
fail) a recording. Every route authenticates a device key (:func:`crisp_eml.server.auth.device_project`) and
acts for that device only: another device's capture is unknown to it (404).

``GET /device/commands?wait=S`` is a long poll: an async loop that reads the database (a cheap snapshot read,
on the event loop) every :data:`POLL_S` and answers as soon as a capture is requested, or with an empty list
at the deadline; it never holds a worker thread. Each poll is also the device's heartbeat. When the server
is shutting down (uvicorn's SIGTERM/SIGINT) the poll answers at once, so a graceful shutdown is not held up
by idle devices.
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path as FsPath
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.server.auth import context, device_id, device_project
from crisp_eml.server.errors import ApiError
from crisp_eml.server.routes.devices import Name, SensorBody
from crisp_eml.server.upload_stream import media_type, receive_body
from crisp_eml.store.project import Project

router = APIRouter(tags=["device"])

POLL_S = 0.15  # how often a long poll reads the database
MAX_WAIT_S = 25.0
HEARTBEAT_S = 5.0  # a long poll refreshes the device's last_seen_at this often
CaptureId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Capture id.")]
#: content type of a complete -> the acquisition format it is parsed as
COMPLETE_TYPES = {"application/json": "ei-json", "application/cbor": "ei-cbor"}


class HelloBody(BaseModel):
    """What the device can record from, and free information about it (host, firmware, ...)."""

    model_config = ConfigDict(extra="forbid")
    sensors: list[SensorBody] = Field(default_factory=list, max_length=32)
    info: dict[str, Any] = Field(default_factory=dict)


class StartBody(BaseModel):
    """The axes the device records and its sampling rate."""

    model_config = ConfigDict(extra="forbid")
    axes: list[Name] = Field(min_length=1, max_length=64)
    frequency_hz: float = Field(gt=0, le=10_000_000)


class ChunkBody(BaseModel):
    """Chunk ``seq`` (0, 1, 2...) of live readings: one list of axis values per reading."""

    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=0, le=2**31 - 1)
    rows: list[list[float]] = Field(max_length=100_000)


class FailBody(BaseModel):
    """Why the device could not record."""

    model_config = ConfigDict(extra="forbid")
    error: str = Field(default="", max_length=2000)


def server_stopping() -> bool:
    """True once uvicorn has been asked to shut down (its SIGTERM/SIGINT handler set ``should_exit``)."""
    handler = signal.getsignal(signal.SIGTERM)
    return bool(getattr(getattr(handler, "__self__", None), "should_exit", False))


@router.post("/device/hello")
def hello(body: HelloBody, request: Request, project: Project = Depends(device_project)) -> dict[str, Any]:
    """Announce the device's sensors (replacing what it said before); also a heartbeat. ``{"device": {...}}``."""
    from crisp_eml.workspace.devices import device_hello

    sensors = [s.model_dump(exclude_none=True) for s in body.sensors]
    return {"device": device_hello(project, device_id(request), sensors, body.info)}


@router.get("/device/commands")
async def commands(request: Request, project: Project = Depends(device_project),
                   wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description=(
                       "Seconds to wait for a capture request (long poll); 0 answers at once.")),
                   ] = 0.0) -> dict[str, Any]:
    """The captures requested of this device, oldest first: ``{"captures": [...]}``, answered as soon as there
    is one, or empty after ``wait`` seconds. Each poll counts as a heartbeat. While the server shuts down the
    answer comes at once, with ``"stopping": true``."""
    from crisp_eml.workspace.captures import pending_captures
    from crisp_eml.workspace.devices import heartbeat, heartbeat_due

    me = device_id(request)
    deadline = time.monotonic() + wait
    beat = 0.0
    while True:
        if time.monotonic() - beat >= HEARTBEAT_S:
            beat = time.monotonic()
            if heartbeat_due(project, me):
                await run_in_threadpool(heartbeat, project, me)
        found = pending_captures(project, me)
        if server_stopping():  # answer now: the device polls again (elsewhere, or once the server is back)
            return {"captures": found, "stopping": True}
        if found or time.monotonic() >= deadline:
            return {"captures": found}
        if await request.is_disconnected():
            return {"captures": []}
        await anyio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


@router.post("/device/captures/{capture_id}/start")
def start(capture_id: CaptureId, body: StartBody, request: Request,
          project: Project = Depends(device_project)) -> dict[str, Any]:
    """Start a requested capture: ``recording`` with these axes and rate (again with the same is harmless; a
    cancelled one is 409: drop it)."""
    from crisp_eml.workspace.captures import start_capture

    return start_capture(project, device_id(request), capture_id, list(body.axes), body.frequency_hz)


@router.post("/device/captures/{capture_id}/chunks")
def chunk(capture_id: CaptureId, body: ChunkBody, request: Request,
          project: Project = Depends(device_project)) -> dict[str, Any]:
    """One chunk of live readings (each row one value per axis; a resent ``seq`` is a no-op):
    ``{"capture", "seq", "duplicate"}``. 409 once the capture was cancelled."""
    from crisp_eml.workspace.captures import add_chunk

    return add_chunk(project, device_id(request), capture_id, body.seq, body.rows)


@router.post("/device/captures/{capture_id}/complete", openapi_extra={"requestBody": {
    "required": True, "description": "The sample as an Edge Impulse acquisition message.",
    "content": {"application/json": {"schema": {"type": "object"}},
                "application/cbor": {"schema": {"type": "string", "format": "binary"}}}}})
async def complete(capture_id: CaptureId, request: Request,
                   project: Project = Depends(device_project)) -> dict[str, Any]:
    """Send the recorded sample (an Edge Impulse acquisition message, JSON or CBOR): stored through the
    ingestion pipeline with the capture's label and category; the capture is then ``done`` with its
    ``sample_id``. A bad sample is refused naming the field and stores nothing (the capture stays recording);
    completing a done capture returns it unchanged."""
    from crisp_eml.workspace.captures import complete_capture

    ctype = media_type(request.headers.get("content-type"))
    fmt = COMPLETE_TYPES.get(ctype)
    if fmt is None:
        raise ApiError(415, f"unsupported Content-Type {ctype[:60] or '(none)'!r}: send the acquisition message "
                            "as application/json (or application/cbor)", field="content-type")
    me = device_id(request)
    with tempfile.TemporaryDirectory(prefix="eml-capture-") as tmp:
        path = FsPath(tmp) / "body"
        await receive_body(request, path, max_bytes=context(request).settings.max_file_bytes)
        payload = path.read_bytes()
    return await run_in_threadpool(complete_capture, project, me, capture_id, payload, fmt)


@router.post("/device/captures/{capture_id}/fail")
def fail(capture_id: CaptureId, body: FailBody, request: Request,
         project: Project = Depends(device_project)) -> dict[str, Any]:
    """The device could not record: the capture is ``failed`` with ``error`` (an ended one stays as it is)."""
    from crisp_eml.workspace.captures import fail_capture

    return fail_capture(project, device_id(request), capture_id, body.error)
