"""Use case: the field-data review queue, from a window a device flagged to a sample in a new dataset version.

A device running a model (``eml run ... --review-server``, or its own firmware) uploads the windows its model was
unsure about (``low-confidence``) or found unusual (``anomaly``) with what it predicted. Each upload is parsed by
the ingestion parsers (an Edge Impulse acquisition message by default), its canonical blob is stored as a
sample's is, and one :class:`~crisp_eml.store.tables.devices.ReviewItemRow` waits ``pending``. A resend of the
same ``(device, upload_id)`` returns the first item: uploads are idempotent, as every device request must be.

A domain expert then labels items (``label-data``): each becomes a raw-layer sample (split by content hash as
``ingest`` splits, source ``field:<device>/<upload_id>``, the prediction in its metadata), all in one
transaction; or dismisses them. :func:`commit_review` records the labelled items as a new dataset version, so
the data that feeds retraining is named and reproducible.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisp_eml.core.errors import ConflictError, EmlError, InputError, NotFoundError
from crisp_eml.core.paging import check_page
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sensor, content_identity
from crisp_eml.data.formats.parsed import ParsedSample
from crisp_eml.data.samples import add_sample, decode_array, new_sample_id
from crisp_eml.data.splits import assign_category
from crisp_eml.store.project import Project
from crisp_eml.store.tables.base import utcnow
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.store.tables.devices import DeviceRow, ReviewItemRow
from crisp_eml.workspace.credentials import iso, upload_key
from crisp_eml.workspace.ingest import drop_blob_if_unused, write_blob_ahead

REASONS = ("low-confidence", "anomaly", "manual")
STATUSES = ("pending", "labelled", "dismissed")
CATEGORIES = ("training", "testing", "split")
#: format -> the extension the ingestion parsers read it under
FORMATS = {"ei-json": ".json", "ei-cbor": ".cbor", "csv": ".csv", "wav": ".wav"}
SOURCE_PREFIX = "field:"
MANUAL_DEVICE = "manual"  # how an item uploaded without a device is named in its sample's source
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_PAYLOAD_BYTES = 16 << 20
MAX_SCORES = 1000
MAX_TEXT = 256


# -- validation ----------------------------------------------------------------------------------------------------
def _text(value: Any, what: str, limit: int = MAX_TEXT, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InputError("missing", field=what)
        return None
    if not isinstance(value, str):
        raise InputError(f"must be text, got {type(value).__name__}", field=what)
    if required and not value.strip():
        raise InputError("must not be empty", field=what)
    if len(value) > limit or any(unicodedata.category(c) == "Cc" for c in value):
        raise InputError(f"must be at most {limit} characters, without control characters", field=what)
    return value


def _number(value: Any, what: str, low: float | None = None, high: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"must be a number, got {type(value).__name__}", field=what)
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
        bounds = f" between {low:g} and {high:g}" if low is not None and high is not None else ""
        raise InputError(f"must be a finite number{bounds}, got {value!r}", field=what)
    return v


def _scores(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError("must be an object of label -> score", field="scores")
    if len(raw) > MAX_SCORES:
        raise InputError(f"more than {MAX_SCORES} labels", field="scores")
    out: dict[str, float] = {}
    for k, v in raw.items():
        key = _text(k, "scores", required=True)
        assert key is not None
        score = _number(v, f"scores.{key}")
        assert score is not None
        out[key] = score
    return out


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError("must be an object", field="metadata")
    out: dict[str, Any] = {}
    for k, v in raw.items():
        key = _text(k, "metadata", required=True)
        assert key is not None
        if isinstance(v, str):
            out[key] = _text(v, f"metadata.{key}", 4096)
        elif v is None or isinstance(v, bool):
            out[key] = v
        else:
            out[key] = _number(v, f"metadata.{key}")
    return out


def _label(label: Any) -> str:
    text = _text(label, "label", required=True)
    assert text is not None
    return text.strip()


def _parse(project: Project, payload: bytes, fmt: str) -> ParsedSample:
    """The payload through the ingestion parsers; an error names the field below ``sample``."""
    from crisp_eml.data.formats.dispatch import parse_stream

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", field="format")
    if not isinstance(payload, bytes | bytearray) or not payload:
        raise InputError("the window's data is empty", field="sample")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InputError(f"larger than {MAX_PAYLOAD_BYTES >> 20} MiB", field="sample")
    try:
        return parse_stream(io.BytesIO(bytes(payload)), f"sample{FORMATS[fmt]}", size=len(payload),
                            hmac_key=upload_key(project))
    except InputError as exc:
        raise InputError(exc.reason, field=f"sample.{exc.field}" if exc.field else "sample") from exc
    except EmlError:
        raise
    except Exception as exc:  # noqa: BLE001 - a parser's unexpected error is this payload's fault, reported as such
        raise InputError(f"could not be parsed: {type(exc).__name__}: {str(exc)[:200]}", field="sample") from exc


# -- shapes --------------------------------------------------------------------------------------------------------
def _item(row: ReviewItemRow, device: str | None) -> dict[str, Any]:
    return {"id": row.id, "device": device, "upload_id": row.upload_id, "reason": row.reason, "model": row.model,
            "predicted": row.predicted, "confidence": row.confidence, "anomaly_score": row.anomaly_score,
            "scores": dict(row.scores or {}), "kind": row.kind, "sensors": list(row.sensors),
            "frequency_hz": row.frequency_hz, "length": row.length, "status": row.status, "label": row.label,
            "reviewed_by": row.reviewed_by, "reviewed_at": iso(row.reviewed_at), "sample_id": row.sample_id,
            "version_id": row.version_id, "created_at": iso(row.created_at)}


def _device_names(s: Session, ids: set[str | None]) -> dict[str | None, str | None]:
    known = {i for i in ids if i is not None}
    names: dict[str | None, str | None] = {None: None}
    if known:
        names.update({r.id: r.name for r in s.execute(select(DeviceRow.id, DeviceRow.name)
                                                      .where(DeviceRow.id.in_(known)))})
    return names


def _find(s: Session, device_id: str | None, upload_id: str) -> ReviewItemRow | None:
    cond = ReviewItemRow.device_id.is_(None) if device_id is None else ReviewItemRow.device_id == device_id
    return s.execute(select(ReviewItemRow).where(cond, ReviewItemRow.upload_id == upload_id)).scalar_one_or_none()


# -- submit --------------------------------------------------------------------------------------------------------
def submit_review_item(
    project: Project, device_id: str | None, *, upload_id: str, reason: str, payload: bytes, fmt: str = "ei-json",
    model: str | None = None, predicted: str | None = None, confidence: float | None = None,
    anomaly_score: float | None = None, scores: Mapping[str, float] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue one flagged window (``ingest-data``; audited ``review.submit``) and return its item.

    ``device_id``: the uploading device (None: a member's manual upload). A resend of the same
    ``(device_id, upload_id)`` stores nothing and returns the first item. Bad input is an ``InputError`` naming
    the field (``sample.payload.values``, ``confidence``...) and stores nothing.
    """
    actor = project.require(Permission.INGEST_DATA)
    uid = _text(upload_id, "upload_id", 64, required=True)
    assert uid is not None
    if reason not in REASONS:
        raise InputError(f"must be one of {', '.join(REASONS)}, got {str(reason)[:40]!r}", field="reason")
    model = _text(model, "model", 300)
    predicted = _text(predicted, "predicted")
    conf = _number(confidence, "confidence", 0.0, 1.0)
    anomaly = _number(anomaly_score, "anomaly_score")
    score_map = _scores(scores)
    meta = _metadata(metadata)
    parsed = _parse(project, payload, fmt)
    if parsed.kind == "image" or parsed.array.ndim != 2:
        raise InputError("a review window must be a time series or audio", field="sample")
    with project.read_session() as s:
        device = s.get(DeviceRow, device_id) if device_id is not None else None
        if device_id is not None and device is None:
            raise NotFoundError(f"no device with id '{device_id}'")
        first = _find(s, device_id, uid)
        if first is not None:  # a resend: nothing stored
            return _item(first, device.name if device else None)
    digest, existed = write_blob_ahead(project, parsed.array)  # before the row, as a sample's
    for key, value in (("device_name", parsed.device_name), ("device_type", parsed.device_type)):
        if value is not None:
            meta.setdefault(key, value)
    row = ReviewItemRow(
        id=new_sample_id(), device_id=device_id, upload_id=uid, reason=reason, model=model, predicted=predicted,
        confidence=conf, anomaly_score=anomaly, scores=score_map, kind=parsed.kind,
        sensors=[x.to_dict() for x in parsed.sensors], frequency_hz=parsed.frequency_hz,
        length=int(parsed.array.shape[0]), shape=[int(d) for d in parsed.array.shape], hash=digest,
        meta={**parsed.metadata, **meta}, status="pending")
    stored = False
    try:
        with project.session() as s:
            first = _find(s, device_id, uid)
            if first is not None:  # sent twice at once: the other request stored it
                return _item(first, device.name if device else None)
            s.add(row)
            try:
                with s.begin_nested():
                    s.flush()
            except IntegrityError:  # the unique (device, upload_id) index: another writer won the race
                first = _find(s, device_id, uid)
                if first is None:
                    raise
                return _item(first, device.name if device else None)
            project.record(s, "review.submit", {"item": row.id, "device": device_id, "upload_id": uid,
                                                "reason": reason, "hash": digest}, actor=actor)
            stored = True
            return _item(row, device.name if device else None)
    finally:
        if not stored and not existed:
            drop_blob_if_unused(project, digest)


# -- read ----------------------------------------------------------------------------------------------------------
def _token(row_created: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{row_created.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def _untoken(token: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        when, _, rid = text.partition("|")
        if not rid:
            raise ValueError("no id")
        return datetime.fromisoformat(when), rid
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InputError("not a page token this listing gave", field="page_token") from exc


def list_review(
    project: Project, status: str | None = "pending", limit: int = DEFAULT_LIMIT, page_token: str | None = None,
) -> dict[str, Any]:
    """One page of review items, oldest first: ``{"items", "total", "limit", "next_page_token"}``.

    ``status``: pending (default), labelled, dismissed, or None/"all" for every item. Paging is by key (the
    last item's time and id, in ``next_page_token``), so items queued meanwhile neither repeat nor go missing.
    """
    if status == "all":
        status = None
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; one of {', '.join(STATUSES)}, all", field="status")
    check_page(limit, 0, MAX_LIMIT, unit="items")
    cond = [] if status is None else [ReviewItemRow.status == status]
    q = select(ReviewItemRow).where(*cond)
    if page_token:
        when, rid = _untoken(page_token)
        q = q.where(or_(ReviewItemRow.created_at > when,
                        and_(ReviewItemRow.created_at == when, ReviewItemRow.id > rid)))
    q = q.order_by(ReviewItemRow.created_at, ReviewItemRow.id).limit(limit + 1)
    with project.read_session() as s:
        rows = list(s.execute(q).scalars())
        total = int(s.execute(select(func.count()).select_from(ReviewItemRow).where(*cond)).scalar_one())
        names = _device_names(s, {r.device_id for r in rows})
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_item(r, names.get(r.device_id)) for r in rows], "total": total, "limit": limit,
            "next_page_token": _token(rows[-1].created_at, rows[-1].id) if more and rows else None}


def _get(s: Session, item_id: str) -> ReviewItemRow:
    row = s.get(ReviewItemRow, item_id) if isinstance(item_id, str) else None
    if row is None:
        raise NotFoundError(f"no review item with id '{item_id}'")
    return row


def get_review_item(project: Project, item_id: str) -> dict[str, Any]:
    """One item, with its metadata."""
    with project.read_session() as s:
        row = _get(s, item_id)
        return {**_item(row, _device_names(s, {row.device_id}).get(row.device_id)), "metadata": dict(row.meta or {})}


def review_values(project: Project, item_id: str) -> dict[str, Any]:
    """The window's axes, rate, shape and values (as a sample's ``GET .../data`` gives them; NaN as null)."""
    with project.read_session() as s:
        row = _get(s, item_id)
    arr = decode_array(project.blobs.get(row.hash))
    values: list[Any] = [[v if math.isfinite(v) else None for v in r] for r in arr.astype(float).tolist()]
    return {"id": row.id, "kind": row.kind, "sensors": list(row.sensors), "frequency_hz": row.frequency_hz,
            "shape": list(arr.shape), "values": values}


# -- label, dismiss, commit ----------------------------------------------------------------------------------------
def _ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str) or not ids:
        raise InputError("give at least one review item id", field="ids")
    out: list[str] = []
    for i in ids:
        if i not in out:
            out.append(i)
    return out


def label_review(project: Project, ids: Sequence[str], label: str, category: str = "split") -> dict[str, Any]:
    """Label the items ``ids`` (``label-data``): each becomes a raw-layer sample, all in one transaction, audited
    ``review.label``. An item whose content a sample already holds is refused (``ConflictError`` naming both),
    as is an item already labelled; nothing changes then."""
    actor = project.require(Permission.LABEL_DATA)
    wanted = _ids(ids)
    text = _label(label)
    if category not in CATEGORIES:
        raise InputError(f"must be one of {', '.join(CATEGORIES)}, got {str(category)[:40]!r}", field="category")
    with project.read_session() as s:
        rows = [_get(s, i) for i in wanted]
    arrays = {r.id: decode_array(project.blobs.get(r.hash)) for r in rows}
    done: list[dict[str, Any]] = []
    with project.session() as s:
        names = _device_names(s, {r.device_id for r in rows})
        items = [_get(s, i) for i in wanted]
        for row in items:
            if row.status == "labelled":
                raise ConflictError(f"review item {row.id} is already labelled '{row.label}' (sample "
                                    f"{row.sample_id}); relabel that sample with 'eml data label'")
        idents = {r.id: content_identity(r.hash, r.kind, r.frequency_hz, _sensors(r)) for r in items}
        known = {x.identity: (x.id, x.name) for x in s.execute(
            select(SampleRow.identity, SampleRow.id, SampleRow.name)
            .where(SampleRow.identity.in_(set(idents.values()))))}
        seen: dict[str, str] = {}
        for row in items:
            ident = idents[row.id]
            if ident in known:
                sid, sname = known[ident]
                raise ConflictError(f"review item {row.id}: the same window (content, rate and axes) is already "
                                    f"sample {sid} ('{sname}'); dismiss the item, or label that sample instead")
            if ident in seen:
                raise ConflictError(f"review items {seen[ident]} and {row.id} hold the same window: label one, "
                                    "dismiss the other")
            seen[ident] = row.id
        now = utcnow()
        try:
            for row in items:
                done.append(_to_sample(project, s, row, arrays[row.id], text, category, idents[row.id],
                                       names.get(row.device_id)))
                row.status, row.label, row.sample_id = "labelled", text, done[-1]["sample"]
                row.reviewed_by, row.reviewed_at = actor.name, now
            s.flush()
        except IntegrityError as exc:  # a sample of the same content committed meanwhile (PostgreSQL)
            raise ConflictError("a sample of the same content was added meanwhile; nothing was labelled") from exc
        project.record(s, "review.label", {"items": done}, actor=actor)
        return {"labelled": len(done), "items": [_item(r, names.get(r.device_id)) for r in items],
                "samples": [d["sample"] for d in done]}


def _to_sample(project: Project, s: Session, row: ReviewItemRow, array: Any, label: str, category: str,
               identity: str, device: str | None) -> dict[str, Any]:
    """Add the item's window as a raw sample inside ``s``; what the audit entry records of it."""
    cat = category if category != "split" else assign_category(row.hash)
    meta = {**dict(row.meta or {}), "reason": row.reason, "predicted": row.predicted, "confidence": row.confidence,
            "anomaly_score": row.anomaly_score, "model": row.model, "review_item": row.id}
    sample = add_sample(
        project, s, array, name=f"{label}.{row.id}", label=label, category=cat, kind=row.kind,
        sensors=_sensors(row), frequency_hz=row.frequency_hz,
        source=f"{SOURCE_PREFIX}{device or MANUAL_DEVICE}/{row.upload_id}", metadata=meta,
        device_name=device or row.meta.get("device_name"), device_type=row.meta.get("device_type"),
        identity=identity, digest=row.hash)
    return {"item": row.id, "sample": sample.id, "label": label, "category": cat, "hash": row.hash}


def _sensors(row: ReviewItemRow) -> list[Sensor]:
    return [Sensor(x["name"], x.get("units")) for x in row.sensors]


def dismiss_review(project: Project, ids: Sequence[str]) -> dict[str, Any]:
    """Dismiss the items ``ids`` (``label-data``; audited ``review.dismiss``): they leave the pending queue and
    become no sample. A labelled item cannot be dismissed (its sample exists: remove that instead)."""
    actor = project.require(Permission.LABEL_DATA)
    wanted = _ids(ids)
    with project.session() as s:
        items = [_get(s, i) for i in wanted]
        for row in items:
            if row.status == "labelled":
                raise ConflictError(f"review item {row.id} is labelled (sample {row.sample_id}): remove the sample "
                                    "instead ('eml data rm')")
        changed = [r for r in items if r.status != "dismissed"]
        now = utcnow()
        for row in changed:
            row.status, row.reviewed_by, row.reviewed_at = "dismissed", actor.name, now
        if changed:
            project.record(s, "review.dismiss", {"items": [r.id for r in changed]}, actor=actor)
        names = _device_names(s, {r.device_id for r in items})
        return {"dismissed": len(changed), "items": [_item(r, names.get(r.device_id)) for r in items]}


def _uncommitted(s: Session) -> list[ReviewItemRow]:
    """Labelled items not yet in a version whose sample is still an enabled raw sample."""
    q = (select(ReviewItemRow).join(SampleRow, SampleRow.id == ReviewItemRow.sample_id)
         .where(ReviewItemRow.status == "labelled", ReviewItemRow.version_id.is_(None),
                SampleRow.layer == "raw", SampleRow.enabled.is_(True))
         .order_by(ReviewItemRow.created_at, ReviewItemRow.id))
    return list(s.execute(q).scalars())


def commit_review(project: Project, message: str) -> dict[str, Any]:
    """Record the raw layer, with the labelled items' samples, as a new dataset version (``label-data``, and
    ``ingest-data`` for the version); mark those items with it; audited ``review.commit``. The version, the
    marks and both audit entries are one transaction. Nothing labelled to commit is an ``InputError``.
    """
    from crisp_eml.workspace.snapshot import create_version

    actor = project.require(Permission.LABEL_DATA)
    recorder = project.require(Permission.INGEST_DATA)
    if not isinstance(message, str) or not message.strip():
        raise InputError("a commit needs a message", field="message")
    with project.session() as s:
        rows = _uncommitted(s)
        if not rows:
            raise InputError("nothing to commit: no labelled review item waits for a dataset version (label some "
                             "with 'eml data review label')", field="review")
        info = create_version(project, s, message, "raw", recorder)  # holds every enabled raw sample: these too
        for row in rows:
            row.version_id = info.id
        project.record(s, "review.commit", {"version": info.id, "items": [r.id for r in rows],
                                            "samples": [r.sample_id for r in rows]}, note=message, actor=actor)
    return {"version": info.to_dict(), "items": [r.id for r in rows], "samples": [r.sample_id for r in rows]}
