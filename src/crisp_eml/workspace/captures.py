"""Use cases for remote captures: a member asks a registered device for a recording, the device records it,
streams it live, and sends the sample, which is stored through the normal ingestion pipeline.

Life of a capture: ``requested`` (a member, ``ingest-data``, audited ``capture.request``) -> ``recording`` (the
device started it, naming its axes and rate) -> ``done`` (the device sent the whole sample as an Edge Impulse
acquisition message: parsed, its sensors checked against the axes it started with, then ingested with the
capture's label and category, source
``device:<name>/<label>.<capture id>.json``, audited ``sample.ingest``), or ``failed`` (the device
said so, or it stayed recording for longer than its length plus :data:`STALE_GRACE_S`: noticed whenever a
capture is read) or ``cancelled`` (a member, audited ``capture.cancel``). While it records, numbered chunks of
readings are kept (one resent chunk is a no-op) so the Studio can plot it live from any server process; they
are dropped when the capture ends. Every device-side call names the device it authenticated as: a capture of
another device is unknown to it (404).
"""

from __future__ import annotations

import math
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import ConflictError, EmlError, InputError, NotFoundError
from crisp_eml.core.personas import Permission
from crisp_eml.data.formats.ei_acquisition import SignedOnly, parse_ei
from crisp_eml.data.formats.parsed import ParsedSample, check_frequency
from crisp_eml.store.project import Project
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.store.tables.devices import CaptureChunkRow, CaptureRow, DeviceRow
from crisp_eml.workspace.credentials import iso, upload_key
from crisp_eml.workspace.devices import check_axes, check_text, end_capture, find_device
from crisp_eml.workspace.ingest import SourceFile, ingest_files

STATUSES = ("requested", "recording", "done", "failed", "cancelled")
OPEN = ("requested", "recording")
FINAL = ("done", "failed", "cancelled")
CATEGORIES = ("training", "testing", "split")
FORMATS = {"ei-json": ".json", "ei-cbor": ".cbor"}
STALE_GRACE_S = 60.0
MAX_LENGTH_MS = 3_600_000  # one hour
MAX_CHUNK_ROWS = 100_000
MAX_SEQ = 2**31 - 1
LIVE_CHUNKS = 500  # chunks per capture_live answer at most (ask again with after= the last seq)
SOURCE_PREFIX = "device:"

_completing: dict[str, threading.Lock] = {}  # capture id -> held while this process ingests its sample
_completing_guard = threading.Lock()


def capture_info(row: CaptureRow, device: str) -> dict[str, Any]:
    """The capture dict of the API."""
    return {"id": row.id, "device": device, "device_id": row.device_id, "sensor": row.sensor, "label": row.label,
            "category": row.category, "length_ms": row.length_ms, "status": row.status,
            "axes": None if row.axes is None else list(row.axes), "frequency_hz": row.frequency_hz,
            "sample_id": row.sample_id, "error": row.error, "requested_by": row.requested_by,
            "created_at": iso(row.created_at), "started_at": iso(row.started_at), "finished_at": iso(row.finished_at)}


def _info(s: Session, row: CaptureRow) -> dict[str, Any]:
    dev = s.get(DeviceRow, row.device_id)
    return capture_info(row, dev.name if dev is not None else row.device_id)


def _get(s: Session, capture_id: str) -> CaptureRow:
    row = s.get(CaptureRow, capture_id) if isinstance(capture_id, str) and len(capture_id) <= 32 else None
    if row is None:
        raise NotFoundError(f"no capture {str(capture_id)[:80]!r}")
    return row


def _own(s: Session, device_id: str, capture_id: str) -> CaptureRow:
    """The capture, if it is this device's; another device's is unknown to it."""
    row = _get(s, capture_id)
    if row.device_id != device_id:
        raise NotFoundError(f"no capture {capture_id!r}")
    return row


def _stale(row: CaptureRow, now: datetime) -> bool:
    return (row.status == "recording" and row.started_at is not None
            and now - row.started_at > timedelta(milliseconds=row.length_ms, seconds=STALE_GRACE_S))


def expire_stale(project: Project) -> int:
    """Fail the captures recording for longer than their length plus :data:`STALE_GRACE_S` (the device went
    away); how many. Called whenever captures are read, so nothing needs a timer."""
    now = utcnow()
    with project.read_session() as s:
        rows = s.execute(select(CaptureRow).where(CaptureRow.status == "recording")).scalars()
        stale = [r.id for r in rows if _stale(r, now)]
    if not stale:
        return 0
    n = 0
    with project.session() as s:
        for cid in stale:
            row = s.get(CaptureRow, cid)
            if row is not None and _stale(row, utcnow()):
                end_capture(s, row, "failed", f"stale: the device sent no sample within {row.length_ms} ms + "
                                       f"{STALE_GRACE_S:g} s of starting")
                n += 1
    return n


# -- members -----------------------------------------------------------------------------------------------------
def check_request(label: str, length_ms: int, category: str) -> None:
    check_text(label, "label", 256)
    if isinstance(length_ms, bool) or not isinstance(length_ms, int) or not 1 <= length_ms <= MAX_LENGTH_MS:
        raise InputError(f"must be a whole number of milliseconds from 1 to {MAX_LENGTH_MS}, got {length_ms!r}",
                         field="length_ms")
    if category not in CATEGORIES:
        raise InputError(f"must be one of {', '.join(CATEGORIES)}, got {str(category)[:40]!r}", field="category")


def request_capture(project: Project, device_ref: str, *, label: str, length_ms: int, sensor: str | None = None,
                    category: str = "split") -> dict[str, Any]:
    """Ask a device for a recording of ``length_ms`` from ``sensor`` (default: its first); the device picks it up
    on its next poll. Refused for a revoked device, a sensor it did not announce, or one that announced none."""
    actor = project.require(Permission.INGEST_DATA)
    check_request(label, length_ms, category)
    with project.session() as s:
        dev = find_device(s, device_ref)
        if dev.revoked_at is not None:
            raise ConflictError(f"device {dev.name!r} is revoked")
        if dev.salt is None:
            raise ConflictError(f"device {dev.name!r} is a local serial board: record it with eml capture serial")
        names = [str(x.get("name")) for x in dev.sensors or []]
        if not names:
            raise ConflictError(f"device {dev.name!r} has announced no sensors yet: start its agent (eml agent) "
                                "so it says hello")
        chosen = names[0] if sensor is None else sensor
        if chosen not in names:
            raise InputError(f"device {dev.name!r} has no sensor {str(sensor)[:80]!r}; its sensors: "
                             f"{', '.join(names)}", field="sensor")
        row = CaptureRow(id=secrets.token_hex(8), device_id=dev.id, sensor=chosen, label=label, category=category,
                         length_ms=length_ms, status="requested", requested_by=actor.name)
        s.add(row)
        s.flush()
        project.record(s, "capture.request", {"capture_id": row.id, "device": dev.name, "sensor": chosen,
                                              "label": label, "length_ms": length_ms, "category": category},
                       actor=actor)
        return capture_info(row, dev.name)


def cancel_capture(project: Project, capture_id: str) -> dict[str, Any]:
    """Cancel a capture still waiting or recording (the device stops at its next call); one that has ended is
    returned as it is."""
    actor = project.require(Permission.INGEST_DATA)
    with project.session() as s:
        row = _get(s, capture_id)
        if row.status in OPEN:
            end_capture(s, row, "cancelled", f"cancelled by {actor.name}")
            project.record(s, "capture.cancel", {"capture_id": row.id, "device_id": row.device_id}, actor=actor)
        return _info(s, row)


def get_capture(project: Project, capture_id: str) -> dict[str, Any]:
    expire_stale(project)
    with project.read_session() as s:
        return _info(s, _get(s, capture_id))


def capture_live(project: Project, capture_id: str, after: int = -1) -> dict[str, Any]:
    """The capture and its chunks numbered above ``after`` (at most :data:`LIVE_CHUNKS`; ask again from the
    last one): ``{"capture": {...}, "chunks": [{"seq", "rows"}]}``. Chunks exist only while it records."""
    expire_stale(project)
    with project.read_session() as s:
        row = _get(s, capture_id)
        chunks = s.execute(select(CaptureChunkRow.seq, CaptureChunkRow.rows)
                           .where(CaptureChunkRow.capture_id == row.id, CaptureChunkRow.seq > after)
                           .order_by(CaptureChunkRow.seq).limit(LIVE_CHUNKS)).all()
        return {"capture": _info(s, row), "chunks": [{"seq": c.seq, "rows": c.rows} for c in chunks]}


def list_captures(project: Project, device: str | None = None, status: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    """Captures, newest first: of one device (id or name) and/or in one status."""
    if status is not None and status not in STATUSES:
        raise InputError(f"must be one of {', '.join(STATUSES)}, got {status[:40]!r}", field="status")
    expire_stale(project)
    with project.read_session() as s:
        q = select(CaptureRow, DeviceRow.name).join(DeviceRow, DeviceRow.id == CaptureRow.device_id)
        if device is not None:
            q = q.where(CaptureRow.device_id == find_device(s, device).id)
        if status is not None:
            q = q.where(CaptureRow.status == status)
        rows = s.execute(q.order_by(CaptureRow.created_at.desc(), CaptureRow.id.desc()).limit(limit)).all()
        return [capture_info(r, name) for r, name in rows]


def wait_capture(project: Project, capture_id: str, timeout_s: float, *, poll_s: float = 0.2,
                 on_update: Callable[[dict[str, Any], int], None] | None = None) -> dict[str, Any]:
    """Follow a capture until it ends or ``timeout_s`` passes; the capture as last seen. ``on_update(capture,
    rows received so far)`` hears each poll."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    last, rows = -1, 0
    while True:
        live = capture_live(project, capture_id, last)
        for c in live["chunks"]:
            last, rows = c["seq"], rows + len(c["rows"])
        cap = live["capture"]
        if on_update is not None:
            on_update(cap, rows)
        if cap["status"] in FINAL or time.monotonic() >= deadline:
            return cap
        if not live["chunks"] or len(live["chunks"]) < LIVE_CHUNKS:
            time.sleep(poll_s)


# -- the device --------------------------------------------------------------------------------------------------
def pending_captures(project: Project, device_id: str) -> list[dict[str, Any]]:
    """This device's requested captures, oldest first (a cheap read: the long poll calls it often)."""
    with project.read_session() as s:
        rows = s.execute(select(CaptureRow).where(CaptureRow.device_id == device_id,
                                                  CaptureRow.status == "requested")
                         .order_by(CaptureRow.created_at, CaptureRow.id)).scalars().all()
        if not rows:
            return []
        dev = s.get(DeviceRow, device_id)
        name = dev.name if dev is not None else device_id
        return [capture_info(r, name) for r in rows]


def start_capture(project: Project, device_id: str, capture_id: str, axes: list[str],
                  frequency_hz: float) -> dict[str, Any]:
    """The device starts recording: ``recording`` with its axes and rate. Starting again with the same axes and
    rate is harmless; a capture that was cancelled or has ended is a conflict (the device drops it)."""
    names = check_axes(axes, "axes")
    if isinstance(frequency_hz, bool) or not isinstance(frequency_hz, int | float):
        raise InputError("must be a number", field="frequency_hz")
    try:
        hz = check_frequency(float(frequency_hz), "start")
    except InputError as exc:
        raise InputError(exc.reason, field="frequency_hz") from exc
    with project.session() as s:
        row = _own(s, device_id, capture_id)
        if row.status == "recording" and row.axes == names and row.frequency_hz == hz:
            return _info(s, row)
        if row.status != "requested":
            raise ConflictError(f"capture {row.id} is {row.status}" + (f": {row.error}" if row.error else ""))
        row.status, row.axes, row.frequency_hz, row.started_at = "recording", names, hz, utcnow()
        return _info(s, row)


def add_chunk(project: Project, device_id: str, capture_id: str, seq: int, rows: list[list[float]]) -> dict[str, Any]:
    """One numbered chunk of live readings (each row one value per axis); a chunk already received is a no-op.
    ``{"capture": {...}, "seq", "duplicate"}``."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise InputError(f"must be a whole number from 0 to {MAX_SEQ}", field="seq")
    if not isinstance(rows, list) or len(rows) > MAX_CHUNK_ROWS:
        raise InputError(f"must be a list of at most {MAX_CHUNK_ROWS} rows", field="rows")
    with project.session() as s:
        row = _own(s, device_id, capture_id)
        if row.status != "recording":
            raise ConflictError(f"capture {row.id} is {row.status}, not recording"
                                + (f": {row.error}" if row.error else ""))
        width = len(row.axes or [])
        clean: list[list[float]] = []
        for i, r in enumerate(rows):
            if not isinstance(r, list) or len(r) != width:
                got = len(r) if isinstance(r, list) else 1
                axes = ", ".join(row.axes or [])
                raise InputError(f"row {i} has {got} values but the capture has {width} axes ({axes})", field="rows")
            if not all(not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) for v in r):
                raise InputError(f"row {i} holds a value that is not a finite number", field="rows")
            clean.append([float(v) for v in r])
        duplicate = s.get(CaptureChunkRow, (row.id, seq)) is not None
        if not duplicate:
            s.add(CaptureChunkRow(capture_id=row.id, seq=seq, rows=clean))
        return {"capture": _info(s, row), "seq": seq, "duplicate": duplicate}


def fail_capture(project: Project, device_id: str, capture_id: str, error: str) -> dict[str, Any]:
    """The device could not record: ``failed`` with its reason. A capture that has ended stays as it is."""
    reason = (error or "").strip()[:2000] or "the device reported a failure"
    reason = "".join(c if c >= " " or c in "\n\t" else "?" for c in reason)
    with project.session() as s:
        row = _own(s, device_id, capture_id)
        if row.status in OPEN:
            end_capture(s, row, "failed", reason)
        return _info(s, row)


def _parse(row: CaptureRow, payload: bytes, fmt: str, key: SignedOnly | None) -> ParsedSample:
    """The sample of a complete, checked against the capture (InputError naming the field otherwise)."""
    if not payload:
        raise InputError("the request body is empty: send the sample as an acquisition message", field="body")
    parsed = parse_ei(payload, f"capture {row.id}", hmac_key=key, cbor=fmt == "ei-cbor")
    names = [x.name for x in parsed.sensors]
    if names != list(row.axes or []):
        raise InputError(f"the sample's sensors {names} are not the axes the capture started with "
                         f"{list(row.axes or [])}", field="payload.sensors")
    return parsed


def _sample_of(project: Project, source: str) -> str | None:
    """The sample an earlier complete of this capture stored, when a crash came before the capture was marked
    done: the device's resend is then a duplicate of it, and marks the capture done instead of failing."""
    with project.read_session() as s:
        return s.execute(select(SampleRow.id).where(SampleRow.source == source).limit(1)).scalar_one_or_none()


def _lock(capture_id: str) -> threading.Lock:
    with _completing_guard:
        return _completing.setdefault(capture_id, threading.Lock())


def complete_capture(project: Project, device_id: str, capture_id: str, payload: bytes,
                     fmt: str = "ei-json") -> dict[str, Any]:
    """The device sends the whole sample (an Edge Impulse acquisition message): it is checked against the axes
    the capture started with and ingested through the ingestion pipeline (quality checks, duplicates refused,
    ``sample.ingest`` audit) with the capture's label and category, source ``device:<name>/...``. Then the capture is
    ``done`` with its sample id and its live chunks are dropped. A bad sample stores nothing and leaves the
    capture recording (the device may send it again); completing a done capture returns it unchanged."""
    if fmt not in FORMATS:
        raise InputError(f"must be one of {', '.join(FORMATS)}, got {str(fmt)[:40]!r}", field="format")
    with _lock(capture_id):
        try:
            return _complete(project, device_id, capture_id, payload, fmt)
        finally:
            with _completing_guard:
                _completing.pop(capture_id, None)


def _complete(project: Project, device_id: str, capture_id: str, payload: bytes, fmt: str) -> dict[str, Any]:
    with project.read_session() as s:
        row = _own(s, device_id, capture_id)
        if row.status == "done":
            return _info(s, row)
        if row.status != "recording":
            raise ConflictError(f"capture {row.id} is {row.status}" + (f": {row.error}" if row.error else "")
                                + ("" if row.status != "requested" else ": start it first"))
        device = _info(s, row)["device"]
    key = upload_key(project)
    parsed = _parse(row, payload, fmt, key)
    name = f"{row.label}.{row.id}{FORMATS[fmt]}".replace("/", "_").replace("\\", "_")
    source = f"{SOURCE_PREFIX}{device}/{name}"  # the extension names the format to the parsers
    with tempfile.TemporaryDirectory(prefix="eml-capture-") as tmp:
        path = Path(tmp) / f"sample{FORMATS[fmt]}"
        path.write_bytes(payload)
        report = ingest_files(project, [SourceFile(path, PurePath(name), None, source=source)],
                              label=row.label, category=row.category,
                              hmac_key=key, allow_duplicates=False,
                              metadata={"capture_id": row.id, "device": device})
    earlier = _sample_of(project, source) if report.failures else None
    if report.failures and earlier is None:
        failure = report.failures[0]
        reason = failure.reason.removeprefix(f"{source}: ")
        if failure.error == "ConflictError":
            raise ConflictError(reason)
        if failure.error == "InputError":
            raise InputError(reason)
        raise EmlError(reason)
    sample_id = earlier if earlier is not None else report.samples[0].id
    with project.session() as s:
        row = _own(s, device_id, capture_id)
        if row.status != "done":
            row.sample_id, row.frequency_hz = sample_id, parsed.frequency_hz
            end_capture(s, row, "done")
        return _info(s, row)
