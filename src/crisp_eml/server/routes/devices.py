"""Devices and remote captures, for members: register a device (its key shown once), list and revoke devices,
ask one for a recording, follow it live, cancel it.

Thin: each route calls the use case ``eml devices ...`` calls (:mod:`crisp_eml.workspace.devices`,
:mod:`crisp_eml.workspace.captures`), so the permission (``ingest-data`` to register, revoke, request and
cancel) and the audit entries are the CLI's. The device's own side lives in :mod:`.device_api`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["devices"])

TEXT = r"^[^\x00-\x1f\x7f]*$"
DeviceRef = Annotated[str, Path(min_length=1, max_length=200, pattern=TEXT, description="Device id or name.")]
CaptureId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Capture id.")]
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=TEXT)]
Status = Literal["requested", "recording", "done", "failed", "cancelled"]


class SensorBody(BaseModel):
    """One sensor a device can record from: its axes, units (one text, or one per axis) and nominal rate."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    kind: Literal["timeseries", "audio", "image"] = "timeseries"
    axes: list[Name] = Field(min_length=1, max_length=64)
    units: Name | list[Name | None] | None = None
    frequency_hz: float | None = Field(default=None, gt=0, le=10_000_000)


class DeviceBody(BaseModel):
    """A new device (``eml devices add``): letters, digits and ``. _ : -`` in its name."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
    kind: Literal["linux-agent", "serial-bridge"] = "linux-agent"
    sensors: list[SensorBody] | None = Field(default=None, max_length=32)


class CaptureBody(BaseModel):
    """A recording asked of a device: its label, length, sensor (default: the device's first) and category."""

    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(min_length=1, max_length=256, pattern=TEXT)]
    length_ms: int = Field(ge=1, le=3_600_000)
    sensor: Name | None = None
    category: Literal["training", "testing", "split"] = "split"


@router.get("/devices")
def devices(project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """Registered devices, oldest first, with ``online`` (seen in the last 30 s) and ``state``; never keys."""
    from crisp_eml.workspace.devices import list_devices

    return list_devices(project)


@router.post("/devices", status_code=201)
def register(body: DeviceBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Register a device (needs ``ingest-data``; audited); ``key`` is its secret, shown this once."""
    from crisp_eml.workspace.devices import register_device

    sensors = None if body.sensors is None else [s.model_dump(exclude_none=True) for s in body.sensors]
    return register_device(project, body.name, body.kind, sensors)


@router.delete("/devices/{ref}")
def revoke(ref: DeviceRef, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Revoke the device's key at once and cancel its open captures (``ingest-data``; audited)."""
    from crisp_eml.workspace.devices import revoke_device

    return revoke_device(project, ref)


@router.post("/devices/{ref}/captures", status_code=201)
def request(ref: DeviceRef, body: CaptureBody, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Ask the device for a recording (``ingest-data``; audited); it starts on the device's next poll."""
    from crisp_eml.workspace.captures import request_capture

    return request_capture(project, ref, label=body.label, length_ms=body.length_ms, sensor=body.sensor,
                           category=body.category)


@router.get("/captures")
def captures(
    project: Project = Depends(member_project),
    device: Annotated[str | None, Query(min_length=1, max_length=200, pattern=TEXT,
                                        description="Only this device's (id or name).")] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Captures, newest first."""
    from crisp_eml.workspace.captures import list_captures

    return list_captures(project, device, status, limit)


@router.get("/captures/{capture_id}")
def capture(capture_id: CaptureId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """One capture: its status, and the sample id once it is done."""
    from crisp_eml.workspace.captures import get_capture

    return get_capture(project, capture_id)


@router.get("/captures/{capture_id}/live")
def live(capture_id: CaptureId, project: Project = Depends(member_project),
         after: Annotated[int, Query(ge=-1, le=2**31 - 1, description="Only chunks numbered above this.")] = -1,
         ) -> dict[str, Any]:
    """The capture and the live chunks the device sent so far (``{"capture", "chunks": [{"seq", "rows"}]}``):
    poll with ``after`` = the last chunk's ``seq``."""
    from crisp_eml.workspace.captures import capture_live

    return capture_live(project, capture_id, after)


@router.post("/captures/{capture_id}/cancel")
def cancel(capture_id: CaptureId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Cancel a capture still waiting or recording (``ingest-data``; audited); an ended one is returned as is."""
    from crisp_eml.workspace.captures import cancel_capture

    return cancel_capture(project, capture_id)
