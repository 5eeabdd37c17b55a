"""Answers to Edge Impulse's DSP-block requests (``/parameters``, ``/run``, ``/batch``) computed by a built-in block.

Pure (no HTTP): :mod:`crisp_eml.server.dsp_block_app` wraps these in routes. The contract (Edge Impulse's block
servers, see docs/impulse.md "Edge Impulse DSP blocks over HTTP"):

- request: ``features`` (one window flat and interleaved by axis; ``/batch``: a list of such windows), ``axes`` (axis
  names: their number splits the window), ``sampling_freq`` (Hz), ``draw_graphs``, ``implementation_version``
  (an Edge Impulse version number; absent: the block's latest; ``"crisp"``: crisp-eml's own variant) and
  ``params`` (names dashed as in ``parameters.json`` or underscored as Edge Impulse's tools send them, values of
  the parameter's type or as strings);
- answer: ``{"success": true, "features", "graphs", "labels", "fft_used", "output_config"}`` (``/batch``:
  ``features`` a list per window, with ``labels`` and ``output_config``). A bad request raises
  :class:`InputError` naming the field or parameter; the server answers it as ``{"success": false, "error"}``.

Edge Impulse's tools send every parameter of the block's ``parameters.json``; one our class at that version does
not use (e.g. ``show_axes`` for crisp-eml's own spectrogram) is ignored. ``graphs`` is always empty (no plots).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import CRISP, Block, Version
from crisp_eml.dsp.basic import FlattenBlock
from crisp_eml.dsp.ei_contract import block_meta, ei_param_names, parameters_document
from crisp_eml.dsp.registry import block_class, block_versions, latest_version, make_block

#: Edge Impulse's names of the flatten statistics (its ``labels``).
_FLATTEN_LABELS = {"average": "Average", "minimum": "Minimum", "maximum": "Maximum", "rms": "RMS",
                   "stdev": "Stdev", "skewness": "Skewness", "kurtosis": "Kurtosis"}


def advertised_version(block_type: str) -> int:
    """``latestImplementationVersion`` of the served block: our latest Edge Impulse version of it (Edge
    Impulse's number when we have none yet: requests then ask for ``"crisp"`` or give no version)."""
    nums = [v for v in block_versions(block_type) if isinstance(v, int)]
    return max(nums) if nums else block_meta(block_type).ei_latest


def parameters(block_type: str) -> dict[str, Any]:
    """``GET /parameters``: the block's description with the defaults of the class serving its latest version."""
    return parameters_document(block_type, block_class(block_type, latest_version(block_type)),
                               advertised_version(block_type))


def title_line(block_type: str) -> str:
    info = parameters(block_type)["info"]
    return f"Edge Impulse DSP block: {info['title']} by {info['author']}"


def _version(block_type: str, raw: Any) -> Version:
    if raw is None:
        return latest_version(block_type)
    if raw == CRISP:
        return CRISP
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int | float) or int(raw) != raw:
        raise InputError(f"must be an Edge Impulse version number or \"crisp\", got {raw!r}",
                         field="implementation_version")
    return int(raw)


def _block(block_type: str, body: Mapping[str, Any]) -> Block:
    version = _version(block_type, body.get("implementation_version"))
    params = body.get("params") if body.get("params") is not None else {}
    if not isinstance(params, dict):
        raise InputError("must be a JSON object of parameter name -> value", field="params")
    cls = block_class(block_type, version)
    ei = ei_param_names(block_type)
    kept = {k: v for k, v in params.items()
            if cls.param_key(k) is not None or (k not in ei and k.replace("_", "-") not in ei)}
    return make_block(block_type, kept, version)


def _frequency(body: Mapping[str, Any]) -> float:
    fs = body.get("sampling_freq")
    if fs is None:
        raise InputError('missing "sampling_freq" in body', field="sampling_freq")
    if isinstance(fs, bool) or not isinstance(fs, int | float) or not math.isfinite(fs) or fs <= 0:
        raise InputError(f"must be a positive number (Hz), got {fs!r}", field="sampling_freq")
    return float(fs)


def _axes(body: Mapping[str, Any]) -> list[str]:
    axes = body.get("axes")
    if not isinstance(axes, list) or not axes:
        raise InputError('missing "axes" in body (a non-empty list of axis names)', field="axes")
    return [str(a) for a in axes]


def _window(values: Any, n_axes: int, field: str) -> np.ndarray:
    """One flat interleaved window -> float32 ``[L, A]``."""
    if not isinstance(values, list) or not values:
        raise InputError('missing "features" in body (a non-empty list of numbers)', field=field)
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError("must be a flat list of numbers", field=field) from exc
    if x.ndim != 1:
        raise InputError("must be a flat list of numbers (interleaved by axis)", field=field)
    if x.size % n_axes:
        raise InputError(f"{x.size} values do not split into {n_axes} axes", field=field)
    return x.astype(np.float32).reshape(-1, n_axes)


def _labels(block_type: str, blk: Block, axes: list[str], fs: float) -> list[str]:
    """Per-axis feature names (one axis' worth, as Edge Impulse gives them), where the block has names."""
    if not block_meta(block_type).labels:
        return []
    if isinstance(blk, FlattenBlock):
        return [_FLATTEN_LABELS[k] for k in blk.enabled()]
    named = getattr(blk, "feature_names", None)
    if not callable(named):
        return []
    out: list[str] = []
    for name in named(axes, fs):
        text = str(name)
        for a in axes:
            if text.startswith(f"{a} ") or text.startswith(f"{a}: "):
                text = text[len(a):].lstrip(": ").strip()
                break
        if text not in out:
            out.append(text)
    return out


def _fft_used(block_type: str, blk: Block) -> list[int]:
    p = blk.params
    if block_type == "spectral-analysis":
        return [int(p["fft-length"])]
    if block_type in ("spectrogram", "mfe"):
        return [int(p["fft_length"])]
    if block_type == "mfcc":
        return [int(p["num_filters"]), int(p["fft_length"])]
    return []


def _output_config(block_type: str, shape: tuple[int, ...]) -> dict[str, Any]:
    if block_meta(block_type).spectrogram and len(shape) == 2:
        return {"type": "spectrogram", "shape": {"width": int(shape[0]), "height": int(shape[1])}}
    return {"type": "flat", "shape": {"width": int(np.prod(shape))}}


def _compute(block_type: str, body: Mapping[str, Any], windows: list[Any]) -> tuple[Block, list[np.ndarray], list[str]]:
    """The block of the request and each window's features (flat float32)."""
    axes = _axes(body)
    fs = _frequency(body)
    blk = _block(block_type, body)
    arrays = [_window(w, len(axes), "features" if len(windows) == 1 else f"features.{i}")
              for i, w in enumerate(windows)]
    lengths = {a.shape[0] for a in arrays}
    for n in sorted(lengths):
        blk.validate(n, len(axes), fs)
    if len(lengths) == 1:
        out = blk.transform(np.stack(arrays), fs)
        feats = [o.reshape(-1) for o in out]
    else:
        feats = [blk.transform(a[None], fs)[0].reshape(-1) for a in arrays]
    return blk, [np.asarray(f, dtype=np.float32) for f in feats], axes


def run(block_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /run``: one window's features."""
    if not isinstance(body, Mapping):
        raise InputError("the request body is a JSON object", field="body")
    blk, feats, axes = _compute(block_type, body, [body.get("features")])
    fs = float(body["sampling_freq"])
    n_len = len(body["features"]) // len(axes)
    shape = blk.output_shape(n_len, len(axes), fs)
    return {"success": True, "features": [float(v) for v in feats[0]], "graphs": [],
            "labels": _labels(block_type, blk, axes, fs), "fft_used": _fft_used(block_type, blk),
            "output_config": _output_config(block_type, shape)}


def batch(block_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /batch``: the features of each window of ``features`` (a list of windows)."""
    if not isinstance(body, Mapping):
        raise InputError("the request body is a JSON object", field="body")
    windows = body.get("features")
    if not isinstance(windows, list) or not windows:
        raise InputError('missing "features" in body (a non-empty list of windows)', field="features")
    if not all(isinstance(w, list) for w in windows):
        raise InputError("/batch takes a list of windows, each a flat list of numbers", field="features")
    blk, rows, axes = _compute(block_type, body, windows)
    fs = float(body["sampling_freq"])
    shape = blk.output_shape(len(windows[0]) // len(axes), len(axes), fs)
    return {"success": True,
            "features": [[float(v) for v in r] for r in rows],
            "labels": _labels(block_type, blk, axes, fs), "output_config": _output_config(block_type, shape)}
