"""Use case: record samples from a board's serial output and ingest them (``eml capture serial``).

The caller (the CLI) opens the port and hands over its readings; this module names the axes (given, remembered
for this board, asked, or default names), runs the :class:`~crisp_eml.capture.recorder.Recorder`, remembers the
board's axes and rate in a ``devices`` row (``kind="serial"``, no key), and ingests every recorded sample as an
Edge Impulse acquisition message through :func:`crisp_eml.workspace.ingest.ingest_files`: quality checks,
duplicate refusal and the ``sample.ingest`` audit are the ingestion's own. Nothing is ingested until all
samples are recorded, so an error or a disconnect stores nothing (unless ``keep_partial``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from sqlalchemy import select

from crisp_eml.capture.lines import default_axes, parse_axes
from crisp_eml.capture.recorder import Recorder, Recording
from crisp_eml.capture.serial_port import Board, Reading
from crisp_eml.core.errors import ConflictError, InputError
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.store.project import Project
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.devices import DeviceRow
from crisp_eml.workspace.credentials import new_secret
from crisp_eml.workspace.ingest import IngestReport, SourceFile, check_options, ingest_files

DEVICE_KIND = "serial"
DEVICE_TYPE = "serial-data-forwarder"
SENSOR = "serial"
AskAxes = Callable[[int, list[str]], list[str]]  # (values per line, suggested names) -> names


@dataclass
class SerialCapture:
    """What ``eml capture serial`` did: the recording, the board as remembered, and the ingest report."""

    board: Board
    recording: Recording
    samples_wanted: int
    axes_source: str  # given | remembered | asked | default
    report: IngestReport
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """All the samples asked for were recorded and ingested."""
        return (self.recording.ended is None and self.report.ok
                and len(self.report.samples) == self.samples_wanted)

    def to_dict(self) -> dict[str, Any]:
        rec = self.recording
        return {
            "ok": self.ok,
            "port": self.board.port,
            "device": {"name": self.board.name, "kind": DEVICE_KIND, "axes": rec.axes,
                       "axes_source": self.axes_source, "frequency_hz": rec.frequency_hz, "info": self.board.info},
            "frequency": {"frequency_hz": rec.frequency_hz,
                          "detected": rec.rate.to_dict() if rec.rate is not None else None},
            "values_per_line": rec.width, "rows_per_sample": rec.rows_per_sample,
            "length_ms": round(1000 * rec.rows_per_sample / rec.frequency_hz, 3),
            "samples_wanted": self.samples_wanted, "samples_recorded": len(rec.complete),
            "partial_samples": len(rec.samples) - len(rec.complete),
            "skipped_lines": rec.skipped_lines, "resyncs": rec.resyncs, "warnings": rec.warnings + self.notes,
            "ended": rec.ended,
            **self.report.to_dict(),
        }


def check_capture_options(label: str, category: str, samples: int, length_ms: float,
                          frequency_hz: float | None) -> None:
    """Refuse bad options before the port is opened."""
    check_options(category, label, frequency_hz)
    if samples < 1:
        raise InputError(f"the number of samples must be at least 1, got {samples}", field="samples")
    if not 0 < length_ms < float("inf"):
        raise InputError(f"the sample length must be a positive number of ms, got {length_ms:g}", field="length-ms")


def remembered_board(project: Project, board: Board) -> dict[str, Any] | None:
    """The axes and rate remembered for ``board`` (``{"axes", "frequency_hz"}``), if it was recorded before."""
    with project.read_session() as s:
        row = s.execute(select(DeviceRow).where(DeviceRow.name == board.name)).scalar_one_or_none()
    if row is None or row.kind != DEVICE_KIND or not row.sensors:
        return None
    sensor = row.sensors[0]
    return {"axes": list(sensor.get("axes") or []), "frequency_hz": sensor.get("frequency_hz")}


def capture_serial(
    project: Project, readings: Iterable[Reading], *, board: Board, label: str, samples: int = 1,
    length_ms: float = 10_000, frequency_hz: float | None = None, axes: list[str] | None = None,
    ask_axes: AskAxes | None = None, category: str = "split", keep_partial: bool = False,
    allow_duplicates: bool = False, record: Callable[[Recorder], Recording] = Recorder.run,
    on_warning: Callable[[str], None] | None = None,
) -> SerialCapture:
    """Record ``samples`` samples of ``length_ms`` from ``readings`` and ingest them with ``label``.

    ``frequency_hz=None`` detects the rate. Axes: ``axes`` if given, else those remembered for the board when
    their number still fits, else ``ask_axes(width, suggestion)`` when given (interactive), else default names.
    ``record`` runs the recorder (the CLI wraps it in a live view). Raises on a recording error (nothing
    stored); a disconnect with ``keep_partial`` ingests what was recorded and the result is not ``ok``.
    """
    check_capture_options(label, category, samples, length_ms, frequency_hz)
    project.require(Permission.INGEST_DATA)
    known = remembered_board(project, board)
    source = {"how": "default"}
    notes: list[str] = []

    def name_axes(width: int) -> list[str]:
        if axes is not None:
            if len(axes) != width:
                raise InputError(f"--axes names {len(axes)} axes ({', '.join(axes)}) but the board prints {width} "
                                 "values per line; nothing was stored", field="axes")
            source["how"] = "given"
            return axes
        old = (known or {}).get("axes") or []
        if len(old) == width:
            source["how"] = "remembered"
            return list(old)
        if old:
            notes.append(f"the board prints {width} values per line, it printed {len(old)} ({', '.join(old)}) "
                         "when last recorded: its axes are named again")
        if ask_axes is not None:
            names = ask_axes(width, default_axes(width))
            if len(names) != width:
                raise InputError(f"{len(names)} axis name(s) for {width} values per line", field="axes")
            source["how"] = "asked"
            return parse_axes(",".join(names))
        return default_axes(width)

    recorder = Recorder(readings, samples=samples, length_ms=length_ms, frequency_hz=frequency_hz,
                        name_axes=name_axes, keep_partial=keep_partial, on_warning=on_warning)
    recording = record(recorder)
    old_hz = (known or {}).get("frequency_hz")
    if old_hz and recording.rate is not None and recording.frequency_hz != old_hz:
        notes.append(f"the board's rate changed: {recording.frequency_hz:g} Hz now, {old_hz:g} Hz when last recorded")
    _remember(project, board, recording)
    report = _ingest(project, board, recording, label=label, category=category, allow_duplicates=allow_duplicates)
    return SerialCapture(board, recording, samples, source["how"], report, notes)


def _remember(project: Project, board: Board, recording: Recording) -> None:
    """Create or update the board's ``devices`` row with its axes and rate."""
    sensor = {"name": SENSOR, "kind": "timeseries", "axes": recording.axes, "frequency_hz": recording.frequency_hz}
    with project.session() as s:
        row = s.execute(select(DeviceRow).where(DeviceRow.name == board.name)).scalar_one_or_none()
        if row is None:
            row = DeviceRow(id=new_secret()[0], name=board.name, kind=DEVICE_KIND, member=project.actor.name,
                            salt=None, digest=None)
            s.add(row)
        elif row.kind != DEVICE_KIND:
            raise ConflictError(f"a {row.kind} device is already named {board.name!r}; the serial board cannot be "
                                "remembered under that name")
        row.sensors = [sensor]
        row.info = dict(board.info)
        row.last_seen_at = utcnow()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:64] or "sample"


def _ingest(project: Project, board: Board, recording: Recording, *, label: str, category: str,
            allow_duplicates: bool) -> IngestReport:
    """Each recorded sample as an Edge Impulse acquisition message, through the ingestion pipeline."""
    if not recording.samples:
        return IngestReport()
    sensors = [Sensor(name, None) for name in recording.axes]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="eml-serial-") as tmp:
        files: list[SourceFile] = []
        for i, sample in enumerate(recording.samples):
            meta = {"device": board.name, "port": board.port}
            if sample.partial:
                meta["partial"] = "true"
            msg = build_message(np.asarray(sample.rows, dtype=np.float64), sensors, recording.frequency_hz,
                                device_type=DEVICE_TYPE, device_name=board.name, metadata=meta)
            name = f"{_slug(label)}.{stamp}.{i + 1:02d}.json"
            path = Path(tmp) / name
            path.write_bytes(encode(msg))
            # the source names the port and the file (whose extension tells the parser its format)
            files.append(SourceFile(path, PurePath(name), None, source=f"serial:{board.port}/{name}"))
        return ingest_files(project, files, label=label, category=category, allow_duplicates=allow_duplicates)
