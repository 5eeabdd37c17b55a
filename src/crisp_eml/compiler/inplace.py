"""Which input bytes each output element reads: the basis of in-place (overlapping) output placement.

Contract with the C kernels (``compiler.c.kernel_groups``): an op writes its output in increasing flat NHWC
index order, ``G`` elements at a time, and reads everything a group needs before writing it. Then the output
may start ``lag`` bytes below its dying input, ``lag = max_k (k - minread(k)) + 1`` where ``minread(k)`` is
the smallest input index read by any output element of ``k``'s group or a later one.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.params import op_params
from crisp_eml.core.graph import Graph, Op

NO_READ = np.iinfo(np.int64).max


def _as4d(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return s[0], s[1], s[2], s[3]


def _window_min(x_shape: tuple[int, ...], y_shape: tuple[int, ...], p: dict[str, int], kh: int, kw: int,
                dil_h: int, dil_w: int, channel_map: np.ndarray | None) -> np.ndarray:
    """Per output element: the smallest input flat index in its window (all channels if channel_map None)."""
    n, ih, iw, c = _as4d(x_shape)
    _, oh, ow, oc = _as4d(y_shape)
    iy = np.arange(oh)[:, None] * p["stride_h"] - p["pad_h"] + np.arange(kh)[None, :] * dil_h
    ix = np.arange(ow)[:, None] * p["stride_w"] - p["pad_w"] + np.arange(kw)[None, :] * dil_w
    iy_min = np.where((iy >= 0) & (iy < ih), iy, NO_READ).min(axis=1)  # (oh,)
    ix_min = np.where((ix >= 0) & (ix < iw), ix, NO_READ).min(axis=1)  # (ow,)
    ch = np.zeros(oc, np.int64) if channel_map is None else channel_map.astype(np.int64)
    b = np.arange(n)[:, None, None, None]
    yy = iy_min[None, :, None, None]
    xx = ix_min[None, None, :, None]
    flat = ((b * ih + np.minimum(yy, ih)) * iw + np.minimum(xx, iw)) * c + ch[None, None, None, :]
    none = (yy == NO_READ) | (xx == NO_READ)
    return np.where(none, NO_READ, flat).reshape(-1)


def _index_map(g: Graph, op: Op) -> np.ndarray | None:
    """For data-movement/elementwise ops: the input index each output element reads (or None)."""
    from crisp_eml.compiler.reference import shape as shape_ops

    x = g.tensor(op.inputs[0])
    y = g.tensor(op.outputs[0])
    idx = np.arange(int(np.prod(x.shape, dtype=np.int64)), dtype=np.int64).reshape(x.shape)
    t = op.type
    if t in ("RELU", "RELU6", "LOGISTIC", "TANH", "QUANTIZE"):
        return idx.reshape(-1)
    if t in ("ADD", "SUB", "MUL"):
        return np.broadcast_to(idx, y.shape).reshape(-1)
    p = op_params(g, op)
    if t == "PAD":
        widths = [tuple(w) for w in p["paddings"]]
        return np.pad(idx, widths, constant_values=NO_READ).reshape(-1)
    if t == "STRIDED_SLICE":
        return shape_ops.strided_slice(idx, p, y.shape).reshape(-1)
    if t == "TRANSPOSE":
        return shape_ops.transpose(idx, p, y.shape).reshape(-1)
    return None


def read_min(g: Graph, op: Op) -> np.ndarray | None:
    """Smallest input-0 flat index each output element reads (``NO_READ`` if none); None if unknown."""
    x = g.tensor(op.inputs[0])
    y = g.tensor(op.outputs[0])
    t = op.type
    if t in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
        p = op_params(g, op)
        if t == "CONV_2D":
            return _window_min(x.shape, y.shape, p, p["filter_h"], p["filter_w"], p["dilation_h"], p["dilation_w"],
                               None)
        oc = _as4d(y.shape)[3]
        m = p.get("depth_multiplier", 1)
        dil = (p["dilation_h"], p["dilation_w"]) if t == "DEPTHWISE_CONV_2D" else (1, 1)
        return _window_min(x.shape, y.shape, p, p["filter_h"], p["filter_w"], dil[0], dil[1],
                           np.arange(oc) // max(1, m))
    if t == "FULLY_CONNECTED":
        depth = int(g.tensor(op.inputs[1]).shape[-1])
        rows = int(np.prod(y.shape, dtype=np.int64)) // int(g.tensor(op.inputs[1]).shape[0])
        return np.repeat(np.arange(rows, dtype=np.int64) * depth, int(g.tensor(op.inputs[1]).shape[0]))
    if t == "SOFTMAX":
        depth = x.shape[-1]
        rows = int(np.prod(x.shape, dtype=np.int64)) // depth
        return np.repeat(np.arange(rows, dtype=np.int64) * depth, depth)
    if t == "MEAN":
        p = op_params(g, op)
        idx = np.arange(int(np.prod(x.shape, dtype=np.int64)), dtype=np.int64).reshape(x.shape)
        return idx.min(axis=tuple(p["axes"]), keepdims=False).reshape(-1)
    return _index_map(g, op)


def inplace_lag(g: Graph, op: Op) -> int | None:
    """Bytes the output must start below its input to be written over it; None if not allowed."""
    try:
        from crisp_eml.compiler.c.kernel_groups import KERNEL_GROUPS
    except ImportError:
        return None
    group = KERNEL_GROUPS.get(op.type)
    if not group or not op.inputs or not op.outputs:
        return None
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if x.dtype != "int8" or y.dtype != "int8" or x.is_constant:
        return None
    mins = read_min(g, op)
    n_out = int(np.prod(y.shape, dtype=np.int64))
    if mins is None or mins.size != n_out:
        return None
    if group > 1:
        pad = (-n_out) % group
        padded = np.concatenate([mins, np.full(pad, NO_READ, np.int64)])
        mins = np.repeat(padded.reshape(-1, group).min(axis=1), group)[:n_out]
    suffix = np.minimum.accumulate(mins[::-1])[::-1]
    k = np.arange(n_out, dtype=np.int64)
    diffs = np.where(suffix == NO_READ, np.iinfo(np.int64).min, k - np.minimum(suffix, n_out + 1 << 40))
    lag = int(diffs.max()) + 1 if n_out else 0
    return max(lag, 0)
