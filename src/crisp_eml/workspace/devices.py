"""Use cases for registered devices: register one (its key shown once), list them, revoke one, and the device's
own hello and heartbeat.

A device (a Linux board running ``eml agent``, or a board behind ``eml capture serial --server``) records data
for the project. Registering it needs ``ingest-data`` and makes a device key ``eml_d_<id>_<secret>``: the key
acts as the registering member with the single scope ``ingest-data`` (``workspace.credentials``). The device
then says hello with the sensors it can record from, and each long poll of ``GET /device/commands`` counts as a
heartbeat (``last_seen_at``, written at most every few seconds), so a device seen in the last
:data:`ONLINE_S` seconds is shown online. Remote recordings themselves are :mod:`crisp_eml.workspace.captures`.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import ConflictError, InputError, NotFoundError
from crisp_eml.core.personas import Permission
from crisp_eml.store.project import Project
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.devices import CaptureChunkRow, CaptureRow, DeviceRow
from crisp_eml.workspace.credentials import DEVICE_PREFIX, iso, new_secret

ONLINE_S = 30.0  # a device seen this recently is online
HEARTBEAT_WRITE_S = 5.0  # last_seen_at is written at most this often per device
KEYED_KINDS = ("linux-agent", "serial-bridge")  # the kinds that get a key (a local "serial" board has none)
SENSOR_KINDS = ("timeseries", "audio", "image")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MAX_SENSORS = 32
MAX_AXES = 64
MAX_TEXT = 128
MAX_INFO_BYTES = 16 * 1024
MAX_FREQUENCY_HZ = 10_000_000.0

_SEEN: dict[tuple[str, str], datetime] = {}  # (project id, device id) -> when this process last wrote last_seen_at


def end_capture(s: Session, row: CaptureRow, status: str, error: str | None = None) -> None:
    """End a capture (done, failed or cancelled) and drop its live chunks; a revoked device's open captures
    end here too, which is why this lives below :mod:`crisp_eml.workspace.captures`."""
    row.status, row.error, row.finished_at = status, error, utcnow()
    s.execute(delete(CaptureChunkRow).where(CaptureChunkRow.capture_id == row.id))


def device_info(row: DeviceRow, now: datetime | None = None) -> dict[str, Any]:
    """The device dict of the API (never its key)."""
    now = now or utcnow()
    online = (row.revoked_at is None and row.last_seen_at is not None
              and now - row.last_seen_at <= timedelta(seconds=ONLINE_S))
    return {"id": row.id, "name": row.name, "kind": row.kind, "member": row.member,
            "sensors": list(row.sensors or []), "info": dict(row.info or {}), "created_at": iso(row.created_at),
            "last_seen_at": iso(row.last_seen_at), "online": online,
            "state": "revoked" if row.revoked_at is not None else "active"}


def find_device(s: Session, ref: str) -> DeviceRow:
    """A device by id, name or whole key; :class:`NotFoundError` otherwise."""
    ref = ref.strip()
    if ref.startswith(DEVICE_PREFIX):
        ref = ref.removeprefix(DEVICE_PREFIX).split("_")[0]
    row = s.get(DeviceRow, ref) if len(ref) <= 32 else None
    if row is None:
        row = s.execute(select(DeviceRow).where(DeviceRow.name == ref)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no device {ref[:80]!r} (eml devices ls lists them)")
    return row


def check_text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    """Printable text of 1 to ``limit`` characters (names, labels, axes)."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InputError(f"must be text of 1 to {limit} characters", field=field)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError(f"{value[:40]!r} holds a control character", field=field)
    return value


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InputError(f"device names use letters, digits and . _ : - (1 to 64, starting with a letter or "
                         f"digit), got {str(name)[:80]!r}", field="name")
    return name


def check_axes(axes: Any, field: str) -> list[str]:
    """1 to :data:`MAX_AXES` distinct axis names (a sensor's, or a capture's as its device starts it)."""
    if not isinstance(axes, list) or not 1 <= len(axes) <= MAX_AXES:
        raise InputError(f"must be a list of 1 to {MAX_AXES} axis names", field=field)
    out = [check_text(a, field) for a in axes]
    if len(set(out)) != len(out):
        raise InputError("axis names must differ", field=field)
    return out


def check_sensors(sensors: Any) -> list[dict[str, Any]]:
    """Sensor descriptions ``[{name, kind, axes, units?, frequency_hz?}]``, validated and normalised."""
    if sensors is None:
        return []
    if not isinstance(sensors, list) or len(sensors) > MAX_SENSORS:
        raise InputError(f"must be a list of at most {MAX_SENSORS} sensors", field="sensors")
    out: list[dict[str, Any]] = []
    for i, s in enumerate(sensors):
        where = f"sensors[{i}]"
        if not isinstance(s, dict):
            raise InputError("must be an object {name, kind, axes, units?, frequency_hz?}", field=where)
        name = check_text(s.get("name"), f"{where}.name")
        if any(o["name"] == name for o in out):
            raise InputError(f"sensor {name!r} is listed twice", field=f"{where}.name")
        kind = s.get("kind", "timeseries")
        if kind not in SENSOR_KINDS:
            raise InputError(f"must be one of {', '.join(SENSOR_KINDS)}, got {str(kind)[:40]!r}", field=f"{where}.kind")
        axes = check_axes(s.get("axes"), f"{where}.axes")
        entry: dict[str, Any] = {"name": name, "kind": kind, "axes": axes}
        units = s.get("units")
        if units is not None:
            if isinstance(units, str):
                units = check_text(units, f"{where}.units")
            elif isinstance(units, list) and len(units) == len(axes):
                units = [None if u is None else check_text(u, f"{where}.units") for u in units]
            else:
                raise InputError("must be text, or a list with one entry per axis", field=f"{where}.units")
            entry["units"] = units
        hz = s.get("frequency_hz")
        if hz is not None:
            if (isinstance(hz, bool) or not isinstance(hz, int | float) or not math.isfinite(hz)
                    or not 0 < hz <= MAX_FREQUENCY_HZ):
                raise InputError(f"must be a number above 0 and at most {MAX_FREQUENCY_HZ:g}",
                                 field=f"{where}.frequency_hz")
            entry["frequency_hz"] = float(hz)
        out.append(entry)
    return out


def check_info(info: Any) -> dict[str, Any]:
    """Free device information (host, firmware, USB ids): a JSON object of at most 16 KiB."""
    if info is None:
        return {}
    if not isinstance(info, dict) or not all(isinstance(k, str) for k in info):
        raise InputError("must be a JSON object", field="info")
    try:
        text = json.dumps(info, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"must hold plain JSON values: {str(exc)[:80]}", field="info") from exc
    if len(text.encode()) > MAX_INFO_BYTES or "\\u0000" in text:
        raise InputError(f"must be at most {MAX_INFO_BYTES} bytes of JSON, without NUL", field="info")
    return dict(info)


def register_device(project: Project, name: str, kind: str = "linux-agent", sensors: list[dict[str, Any]] | None
                    = None, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Register a device that records for the project; ``key`` in the answer is its secret, shown this once.

    A revoked device's name can be taken again: the old row keeps its history under ``NAME~<id>``."""
    actor = project.require(Permission.INGEST_DATA)
    check_name(name)
    if kind not in KEYED_KINDS:
        raise InputError(f"must be one of {', '.join(KEYED_KINDS)}, got {str(kind)[:40]!r}", field="kind")
    wanted, extra = check_sensors(sensors), check_info(info)
    cid, secret, salt, digest = new_secret()
    with project.session() as s:
        old = s.execute(select(DeviceRow).where(DeviceRow.name == name)).scalar_one_or_none()
        if old is not None and old.revoked_at is None:
            raise ConflictError(f"a device named {name!r} already exists (eml devices rm {name} revokes it)")
        if old is not None:
            old.name = f"{name}~{old.id}"
            s.flush()
        row = DeviceRow(id=cid, name=name, kind=kind, member=actor.name, salt=salt, digest=digest, sensors=wanted,
                        info=extra)
        s.add(row)
        s.flush()
        project.record(s, "device.register", {"device_id": cid, "name": name, "kind": kind}, actor=actor)
        return {**device_info(row), "key": f"{DEVICE_PREFIX}{cid}_{secret}"}


def list_devices(project: Project) -> list[dict[str, Any]]:
    """Every device, oldest first, with its online state (never a key)."""
    now = utcnow()
    with project.read_session() as s:
        rows = s.execute(select(DeviceRow).order_by(DeviceRow.created_at, DeviceRow.id)).scalars()
        return [device_info(r, now) for r in rows]


def revoke_device(project: Project, ref: str) -> dict[str, Any]:
    """Revoke a device's key at once; its captures still waiting or recording are cancelled. Revoking twice is
    harmless."""
    actor = project.require(Permission.INGEST_DATA)
    with project.session() as s:
        row = find_device(s, ref)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            open_ = s.execute(select(CaptureRow).where(CaptureRow.device_id == row.id,
                                                       CaptureRow.status.in_(("requested", "recording"))))
            for cap in open_.scalars():
                end_capture(s, cap, "cancelled", "the device was revoked")
            project.record(s, "device.revoke", {"device_id": row.id, "name": row.name}, actor=actor)
        return device_info(row)


def device_hello(project: Project, device_id: str, sensors: list[dict[str, Any]] | None,
                 info: dict[str, Any] | None) -> dict[str, Any]:
    """The device announces what it can record (replacing what it said before); also a heartbeat."""
    wanted, extra = check_sensors(sensors), check_info(info)
    with project.session() as s:
        row = s.get(DeviceRow, device_id)
        if row is None or row.revoked_at is not None:
            raise NotFoundError(f"no device {device_id!r}")
        row.sensors, row.info, row.last_seen_at = wanted, extra, utcnow()
        _SEEN[(project.project_id, device_id)] = row.last_seen_at
        return device_info(row)


def heartbeat_due(project: Project, device_id: str) -> bool:
    """True when this process has not written the device's ``last_seen_at`` for :data:`HEARTBEAT_WRITE_S`."""
    last = _SEEN.get((project.project_id, device_id))
    return last is None or utcnow() - last >= timedelta(seconds=HEARTBEAT_WRITE_S)


def heartbeat(project: Project, device_id: str) -> None:
    """Record that the device was just seen (a short write; at most every few seconds per device)."""
    if not heartbeat_due(project, device_id):
        return
    now = utcnow()
    _SEEN[(project.project_id, device_id)] = now
    with project.session() as s:
        row = s.get(DeviceRow, device_id)
        if row is not None:
            row.last_seen_at = now
