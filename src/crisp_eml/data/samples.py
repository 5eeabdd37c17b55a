"""Sample repository: the one place that maps sample rows to entities and loads signals from blobs.

Signals are stored canonically as ``.npy`` bytes (float32 ``[length, axes]`` for time series and
audio, uint8 ``[h, w, c]`` for images); the sample's ``hash`` is the sha256 of those bytes, so the
same signal ingested from CSV, WAV or Edge Impulse JSON gets the same hash.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.sample import CATEGORIES, LAYERS, Sample, Sensor
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow


def encode_array(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def decode_array(data: bytes) -> np.ndarray:
    arr: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    return arr


def to_entity(row: SampleRow) -> Sample:
    return Sample(
        id=row.id, name=row.name, label=row.label, category=row.category, kind=row.kind,  # type: ignore[arg-type]
        sensors=tuple(Sensor(s["name"], s.get("units")) for s in row.sensors),
        frequency_hz=row.frequency_hz, interval_ms=row.interval_ms, length=row.length,
        shape=tuple(row.shape), hash=row.hash, source=row.source, metadata=dict(row.meta or {}),
        device_name=row.device_name, device_type=row.device_type, layer=row.layer,
        parent_id=row.parent_id, enabled=row.enabled, source_hash=row.source_hash,
        created_at=row.created_at,
    )


def list_samples(
    project: Project, *, category: str | None = None, label: str | None = None,
    layer: str = "raw", enabled_only: bool = True, session: Session | None = None,
) -> list[Sample]:
    """Samples of one layer, ordered by name then id (a stable order for reproducible runs)."""
    if layer not in LAYERS:
        raise InputError(f"unknown layer {layer!r}; one of {list(LAYERS)}", field="layer")
    if category and category not in CATEGORIES:
        raise InputError(f"unknown category {category!r}; one of {list(CATEGORIES)}", field="category")
    q = select(SampleRow).where(SampleRow.layer == layer)
    if category:
        q = q.where(SampleRow.category == category)
    if label is not None:
        q = q.where(SampleRow.label == label)
    if enabled_only:
        q = q.where(SampleRow.enabled.is_(True))
    q = q.order_by(SampleRow.name, SampleRow.id)
    if session is not None:
        return [to_entity(r) for r in session.execute(q).scalars()]
    with project.read_session() as s:
        return [to_entity(r) for r in s.execute(q).scalars()]


def get_sample(project: Project, ref: str) -> Sample:
    """A sample by id, or by unique name."""
    with project.read_session() as s:
        row = s.get(SampleRow, ref)
        if row is None:
            rows = list(s.execute(select(SampleRow).where(SampleRow.name == ref)).scalars())
            if len(rows) > 1:
                raise NotFoundError(f"sample name '{ref}' is ambiguous ({len(rows)} samples); use its id")
            row = rows[0] if rows else None
        if row is None:
            raise NotFoundError(f"no sample with id or name '{ref}'")
        return to_entity(row)


def load_array(project: Project, sample: Sample) -> np.ndarray:
    """The sample's signal: float32 ``[length, axes]`` or uint8 ``[h, w, c]``."""
    return decode_array(project.blobs.get(sample.hash))


def load_arrays(project: Project, samples: Sequence[Sample]) -> list[np.ndarray]:
    return [load_array(project, s) for s in samples]


def new_sample_id() -> str:
    import uuid

    return uuid.uuid4().hex[:16]


def add_sample(
    project: Project, session: Session, array: np.ndarray, *, name: str, label: str | None, category: str,
    kind: str, sensors: Sequence[Sensor], frequency_hz: float | None, source: str,
    metadata: dict[str, object] | None = None, device_name: str | None = None,
    device_type: str | None = None, layer: str = "raw", parent_id: str | None = None,
    source_hash: str | None = None, sample_id: str | None = None, identity: str | None = None,
    digest: str | None = None,
) -> Sample:
    """Store the signal blob, then add the row (not yet committed) inside ``session``.

    ``identity`` (:func:`crisp_eml.core.sample.content_identity`) makes the row unique: a second row with the
    same identity fails the flush with ``IntegrityError``, whoever wrote the first one.

    The blob is written first and atomically, so a committed row always has its blob; a crash before
    the commit leaves at most an orphan blob, which ``eml data gc`` removes. ``digest``: the blob was stored
    already (ingest writes it ahead): its age is refreshed inside this transaction instead of encoding and
    hashing the array again; only if it is gone meanwhile is it stored anew.
    """
    if digest is None or not project.blobs.touch(digest):
        digest = project.blobs.put(encode_array(array))
    interval = (1000.0 / frequency_hz) if frequency_hz else None
    row = SampleRow(
        id=sample_id or new_sample_id(), name=name, label=label, category=category, kind=kind,
        sensors=[s.to_dict() for s in sensors], frequency_hz=frequency_hz, interval_ms=interval,
        length=int(array.shape[0]), shape=[int(d) for d in array.shape], hash=digest,
        source_hash=source_hash, meta=dict(metadata or {}), source=source, device_name=device_name,
        device_type=device_type, layer=layer, parent_id=parent_id, enabled=True, identity=identity,
    )
    session.add(row)
    session.flush()
    return to_entity(row)
