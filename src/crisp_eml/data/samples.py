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
    """A sample by id, by unique name, or by ``CATEGORY/NAME`` (``testing/idle.01``) when a name exists in both
    training and testing. An ambiguous name is an error listing the candidates and how to pick one."""
    with project.read_session() as s:
        row = s.get(SampleRow, ref)
        if row is None:
            category, sep, name = ref.partition("/")
            q = select(SampleRow).order_by(SampleRow.category, SampleRow.id)
            if sep and category in CATEGORIES:
                q = q.where(SampleRow.name == name, SampleRow.category == category)
            else:
                q = q.where(SampleRow.name == ref)
            rows = list(s.execute(q).scalars())
            if len(rows) > 1:
                raise InputError(_ambiguous(ref, rows))
            row = rows[0] if rows else None
        if row is None:
            raise NotFoundError(f"no sample with id or name '{ref}'")
        return to_entity(row)


def _ambiguous(ref: str, rows: Sequence[SampleRow]) -> str:
    shown = ", ".join(f"{r.id} ({r.category}/{r.name}, layer {r.layer}{'' if r.enabled else ', disabled'})"
                      for r in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    cats = {r.category for r in rows}
    hint = (f"use an id or CATEGORY/NAME, e.g. '{rows[0].category}/{rows[0].name}'" if len(cats) == len(rows)
            else "use an id")
    return f"sample name '{ref}' is ambiguous: {len(rows)} samples match: {shown}{more}; {hint}"


def known_labels(project: Project, *, layer: str = "raw") -> list[str]:
    """The distinct labels of the enabled samples of ``layer``, sorted."""
    q = (select(SampleRow.label).where(SampleRow.layer == layer, SampleRow.enabled.is_(True),
                                       SampleRow.label.is_not(None)).distinct())
    with project.read_session() as s:
        return sorted(str(x) for x in s.execute(q).scalars())


def check_label_known(project: Project, label: str, *, layer: str = "raw") -> None:
    """Raise :class:`NotFoundError` naming the known labels (and a case-insensitive match) when no sample of
    ``layer`` has ``label``: a filter on a mistyped label must not silently match nothing."""
    labels = known_labels(project, layer=layer)
    if label in labels:
        return
    same = [x for x in labels if x.casefold() == label.casefold()]
    hint = f"; did you mean {' or '.join(repr(x) for x in same)}? (labels are case-sensitive)" if same else ""
    shown = ", ".join(labels[:30]) + (f" and {len(labels) - 30} more" if len(labels) > 30 else "")
    raise NotFoundError(f"no sample in layer '{layer}' has label '{label}'{hint}; known labels: {shown or 'none'}")


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
