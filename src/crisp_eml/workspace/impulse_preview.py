"""Use case: DSP preview of one sample through the current impulse (the Studio's "processing" view).

Only the windows asked for (``offset``, ``limit``) are cut and transformed, whatever the recording's length, so a
preview of an hour-long recording costs a few windows; the answer holds at most :data:`MAX_VALUES` feature values.
Non-finite features (a block dividing by zero on a flat window) are returned as ``None`` so the answer stays JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crisp_eml.core.impulse import ImageInput, TimeSeriesInput, resample, window_starts, windows_for
from crisp_eml.core.paging import check_page
from crisp_eml.data.samples import get_sample, load_array
from crisp_eml.dsp.pipeline import apply_impulse, block_output_shapes, feature_names, feature_shape, n_features
from crisp_eml.store.project import Project
from crisp_eml.workspace.features import _check_kind
from crisp_eml.workspace.impulse import current_impulse

MAX_LIMIT = 64  # windows one preview may ask for
MAX_VALUES = 20_000  # feature values one preview returns (windows x features shown)


def _windows(spec: Any, signal: np.ndarray, frequency_hz: float | None, axes: list[str],
             offset: int, limit: int) -> tuple[np.ndarray, int, list[int]]:
    """(windows offset..offset+limit-1, how many windows the sample has, their start rows at the impulse rate)."""
    inp = spec.input
    if isinstance(inp, ImageInput) or inp.length_mode != "window":
        every = windows_for(spec, signal, frequency_hz, axes)  # one window per recording
        return every[offset:offset + limit], int(every.shape[0]), [0] * max(0, min(limit, every.shape[0] - offset))
    sig = np.asarray(signal, dtype=np.float32)
    if sig.ndim == 1:
        sig = sig[:, None]
    sig = sig[:, [axes.index(a) for a in inp.axes]]
    if frequency_hz is not None:
        sig = resample(sig, float(frequency_hz), inp.frequency_hz)
    wl, inc = inp.window_len, inp.increase_len
    starts = window_starts(int(sig.shape[0]), wl, inc, inp.pad_zeros)
    chosen = starts[offset:offset + limit]
    if not chosen:
        return np.zeros((0, wl, len(inp.axes)), dtype=np.float32), len(starts), []
    # the slice's own windows are exactly the chosen ones (same step, first start at 0; the signal is already
    # at the impulse's rate and in its axis order)
    windows = windows_for(spec, sig[chosen[0]:chosen[-1] + wl], None, None)
    assert windows.shape[0] == len(chosen)
    return windows, len(starts), chosen


def _finite(values: np.ndarray) -> list[list[float | None]]:
    return [[float(v) if math.isfinite(v) else None for v in row] for row in values.tolist()]


def preview_sample(project: Project, ref: str, *, offset: int = 0, limit: int = 8) -> dict[str, Any]:
    """Features of windows ``offset``.. of sample ``ref`` (id, name or CATEGORY/NAME) through the current impulse."""
    check_page(limit, offset, MAX_LIMIT, unit="windows")
    spec = current_impulse(project)
    sample = get_sample(project, ref)
    _check_kind(spec, sample)
    nf = n_features(spec)
    per_window = min(nf, MAX_VALUES)
    limit = max(1, min(limit, MAX_VALUES // max(1, per_window)))
    windows, total, starts = _windows(spec, load_array(project, sample), sample.frequency_hz, sample.axes,
                                      offset, limit)
    feats = apply_impulse(spec, windows) if windows.shape[0] else np.zeros((0, nf), dtype=np.float32)
    blocks, start = [], 0
    for b, shape in zip(spec.blocks, block_output_shapes(spec), strict=True):
        size = int(np.prod(shape))
        blocks.append({"name": b.name, "type": b.type, "output_shape": list(shape), "start": start, "length": size})
        start += size
    inp = spec.input
    out: dict[str, Any] = {
        "sample": {"id": sample.id, "name": sample.name, "label": sample.label, "category": sample.category,
                   "kind": sample.kind, "length": sample.length, "frequency_hz": sample.frequency_hz,
                   "axes": sample.axes},
        "impulse_hash": spec.hash, "feature_shape": list(feature_shape(spec)), "n_features": nf, "blocks": blocks,
        "windows": total, "offset": offset, "shown": int(feats.shape[0]),
        "more_windows": offset + int(feats.shape[0]) < total, "features_truncated": per_window < nf,
        "feature_names": feature_names(spec)[:per_window],
        "features": _finite(feats[:, :per_window]),
    }
    if isinstance(inp, TimeSeriesInput):
        out["window_starts_ms"] = [s * 1000.0 / inp.frequency_hz for s in starts]
    return out
