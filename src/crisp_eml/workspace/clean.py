"""Use case: build the cleaned layer (``eml data clean``) from the raw samples, never touching them.

Each enabled raw sample is dropped (unreadable, scored below ``drop_below``, unrepairable or of unknown
rate when resampling) or copied into ``layer="clean"`` with ``parent_id`` = its raw id, after optional
repair (NaNs interpolated per axis, leading repeated rows removed) and resampling to one rate. The new
layer replaces the previous one in a single transaction; clean sample ids derive from (parent id,
content hash), so cleaning the same data the same way gives the same ids and dataset-version digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from crisp_eml.core.errors import InputError
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data import quality as q
from crisp_eml.data.samples import add_sample, encode_array, list_samples
from crisp_eml.store.blobs import sha256
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow
from crisp_eml.workspace.check import check_dataset, read_signal

Progress = Callable[[int, int, str], None]


@dataclass
class CleanResult:
    kept: int = 0
    repaired: int = 0
    resampled: int = 0
    replaced: int = 0  # clean samples of the previous run that this run replaced
    dropped: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "repaired": self.repaired, "resampled": self.resampled, "replaced": self.replaced,
                "dropped": len(self.dropped), "dropped_samples": self.dropped, "params": self.params}


# -- pure transforms --------------------------------------------------------------------------------

def interpolate_nans(arr: np.ndarray) -> np.ndarray | None:
    """Fill non-finite values per axis by linear interpolation (edges: nearest value); None when an axis
    has no finite value at all."""
    a = np.array(arr, dtype=np.float64, copy=True)
    two = a.reshape(a.shape[0], -1)
    idx = np.arange(two.shape[0])
    for j in range(two.shape[1]):
        ok = np.isfinite(two[:, j])
        if ok.all():
            continue
        if not ok.any():
            return None
        two[~ok, j] = np.interp(idx[~ok], idx[ok], two[ok, j])
    return two.reshape(a.shape).astype(arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32)


def drop_leading_repeats(arr: np.ndarray) -> np.ndarray:
    return arr[q.leading_repeats(arr):]


def resample(arr: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``) by the ratio ``to_hz / from_hz``."""
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    if ratio == 1:
        return arr
    out = resample_poly(np.asarray(arr, dtype=np.float64), ratio.numerator, ratio.denominator, axis=0)
    return np.asarray(out, dtype=np.float32)


# -- use case ----------------------------------------------------------------------------------------

def _clean_id(parent_id: str, digest: str) -> str:
    return hashlib.sha256(f"clean:{parent_id}:{digest}".encode()).hexdigest()[:16]


def _process(
    arr: np.ndarray, s: Sample, *, repair: bool, resample_hz: float | None,
) -> tuple[np.ndarray | None, list[str], str | None]:
    """(cleaned array, steps applied, reason when dropped)."""
    steps: list[str] = []
    out = arr
    if s.kind == "image":
        return out, steps, None
    if repair:
        if not np.isfinite(out).all():
            fixed = interpolate_nans(out)
            if fixed is None:
                return None, steps, "an axis has no finite value (cannot interpolate)"
            out = fixed
            steps.append("interpolate_nans")
        lead = q.leading_repeats(out)
        if lead and lead < out.shape[0] - 1:
            out = out[lead:]
            steps.append(f"drop_leading_repeats:{lead}")
    elif not np.isfinite(out).all() and resample_hz:
        return None, steps, "NaN values cannot be resampled (add --repair)"
    if resample_hz and s.frequency_hz != resample_hz:
        if not s.frequency_hz:
            return None, steps, "unknown sample rate: cannot resample"
        ratio = Fraction(resample_hz / s.frequency_hz).limit_denominator(1000)
        if not 0 < ratio.numerator <= 10_000:  # nothing left, or a polyphase filter too big to build
            return None, steps, (f"cannot resample {s.frequency_hz:g} Hz to {resample_hz:g} Hz (ratio "
                                 f"{ratio.numerator}/{ratio.denominator} is out of range)")
        out = resample(out, s.frequency_hz, resample_hz)
        if out.shape[0] == 0:
            return None, steps, "too short to resample"
        steps.append(f"resample:{s.frequency_hz:g}->{resample_hz:g}")
    return out, steps, None


def clean(
    project: Project, *, drop_below: float | None = None, repair: bool = False, resample_hz: float | None = None,
    window_ms: float | None = None, on_progress: Progress | None = None,
) -> CleanResult:
    """Replace the clean layer with a cleaned copy of the enabled raw samples."""
    actor = project.require(Permission.INGEST_DATA)
    if drop_below is not None and not 0 <= drop_below <= 100:
        raise InputError(f"must be a score between 0 and 100, got {drop_below!r}", field="drop-below")
    if resample_hz is not None and (not np.isfinite(resample_hz) or resample_hz <= 0):
        raise InputError(f"must be a positive rate in Hz, got {resample_hz!r}", field="resample")
    if window_ms is not None and (not np.isfinite(window_ms) or window_ms <= 0):
        raise InputError(f"must be a positive number of milliseconds, got {window_ms!r}", field="window-ms")
    raw = list_samples(project, layer="raw")
    if not raw:
        raise InputError("no enabled raw samples to clean", field="layer")
    scores: dict[str, float] = {}
    if drop_below is not None:
        report = check_dataset(project, layer="raw", window_ms=window_ms, audit=False)
        scores = {sq.id: sq.score for sq in report.samples}
    result = CleanResult(params={"drop_below": drop_below, "repair": repair, "resample_hz": resample_hz,
                                 "window_ms": window_ms})
    staged: list[tuple[Sample, np.ndarray, list[str]]] = []
    for i, s in enumerate(raw):
        arr, why = read_signal(project, s)
        if arr is None:
            result.dropped.append({"id": s.id, "name": s.name, "reason": why})
        elif drop_below is not None and scores.get(s.id, 0.0) < drop_below:
            result.dropped.append({"id": s.id, "name": s.name,
                                   "reason": f"score {scores.get(s.id, 0.0):.1f} < {drop_below:g}"})
        else:
            out, steps, reason = _process(arr, s, repair=repair, resample_hz=resample_hz)
            if out is None:
                result.dropped.append({"id": s.id, "name": s.name, "reason": reason})
            else:
                staged.append((s, out, steps))
        if on_progress is not None:
            on_progress(i + 1, len(raw), s.name)
    with project.session() as sess:
        result.replaced = int(sess.execute(select(func.count()).select_from(SampleRow)
                                           .where(SampleRow.layer == "clean")).scalar_one())
        sess.execute(delete(SampleRow).where(SampleRow.layer == "clean"))
        sess.flush()
        for s, out, steps in staged:
            rate = resample_hz if (resample_hz and s.kind != "image" and s.frequency_hz) else s.frequency_hz
            meta = dict(s.metadata)
            meta["clean_steps"] = steps
            add_sample(project, sess, out, name=s.name, label=s.label, category=s.category, kind=s.kind,
                       sensors=s.sensors, frequency_hz=rate, source=s.source, metadata=meta,
                       device_name=s.device_name, device_type=s.device_type, layer="clean", parent_id=s.id,
                       source_hash=s.source_hash, sample_id=_clean_id(s.id, sha256(encode_array(out))))
            result.kept += 1
            result.repaired += any(not st.startswith("resample") for st in steps)
            result.resampled += any(st.startswith("resample") for st in steps)
        project.record(sess, "dataset.clean", {**result.params, "kept": result.kept, "replaced": result.replaced,
                                               "dropped": [d["id"] for d in result.dropped]}, actor=actor)
    return result
