"""Which input bytes each output group reads: the basis of in-place (overlapping) output placement.

Contract with the C kernels (``compiler.c.kernel_groups``): an op writes its output in increasing flat NHWC
order in groups of consecutive elements and reads everything a group needs before writing any byte of it.
So while group ``g`` is written, only the input bytes read by STRICTLY LATER groups must be intact:
``need[g]`` is the smallest input element any later group reads. The output may then sit at
``offset(y) <= offset(x) - lag`` with ``lag = max_g (end_bytes(g) - need_bytes(g))`` (possibly negative: the
output may start above its input, e.g. a depthwise ring reads rows ahead). Each activation input of an op has
its own read order (``write_order(g, op, pos)``), so ADD may write over either of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crisp_eml.compiler.params import op_params
from crisp_eml.core.graph import Graph, Op

NO_READ = np.iinfo(np.int64).max


@dataclass(frozen=True)
class WriteOrder:
    """Output groups of one op against one of its inputs (elements, not bytes)."""

    ends: np.ndarray  # per group: one past its last output element (increasing; the last is the output size)
    need: np.ndarray  # per group: smallest input element a strictly later group reads (NO_READ: none)

    def lag(self, x_item: int, y_item: int, x_bytes: int) -> int:
        """Bytes the output must start below the input (>= -x_bytes; negative: it may start above)."""
        ok = self.need != NO_READ
        if not ok.any():
            return -x_bytes
        return max(int((self.ends[ok] * y_item - self.need[ok] * x_item).max()), -x_bytes)


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


def _index_map(g: Graph, op: Op, pos: int) -> np.ndarray | None:
    """For data-movement/elementwise ops: the input-``pos`` index each output element reads (or None)."""
    from crisp_eml.compiler.reference import shape as shape_ops

    x = g.tensor(op.inputs[pos])
    y = g.tensor(op.outputs[0])
    idx = np.arange(int(np.prod(x.shape, dtype=np.int64)), dtype=np.int64).reshape(x.shape)
    t = op.type
    if t in ("ADD", "SUB", "MUL"):
        return np.broadcast_to(idx, y.shape).reshape(-1)
    if t == "CONCATENATION":
        axis = int(op.options.get("axis", 0)) % len(y.shape)
        parts = [idx if j == pos else np.full(g.tensor(ti).shape, NO_READ, np.int64)
                 for j, ti in enumerate(op.inputs)]
        return np.concatenate(parts, axis=axis).reshape(-1)
    if pos != 0:
        return None
    if t in ("RELU", "RELU6", "LOGISTIC", "TANH", "QUANTIZE", "RESHAPE", "SQUEEZE"):
        return idx.reshape(-1)
    p = op_params(g, op)
    if t == "PAD":
        widths = [tuple(w) for w in p["paddings"]]
        return np.pad(idx, widths, constant_values=NO_READ).reshape(-1)
    if t == "STRIDED_SLICE":
        return shape_ops.strided_slice(idx, p, y.shape).reshape(-1)
    if t == "TRANSPOSE":
        return shape_ops.transpose(idx, p, y.shape).reshape(-1)
    return None


def element_reads(g: Graph, op: Op, pos: int = 0) -> np.ndarray | None:
    """Smallest input-``pos`` flat index each output element reads (``NO_READ`` if none); None if unknown."""
    from crisp_eml.compiler.opdefs import find

    d = find(g, op)
    if d is not None:
        return d.read_min(g, op) if d.read_min is not None and pos == 0 else None
    x = g.tensor(op.inputs[pos])
    y = g.tensor(op.outputs[0])
    t = op.type
    if t in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX",
             "MEAN") and pos != 0:
        return None
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
    return _index_map(g, op, pos)


def read_min(g: Graph, op: Op) -> np.ndarray | None:
    """Smallest input-0 flat index each output element reads (``NO_READ`` if none); None if unknown."""
    return element_reads(g, op, 0)


def _from_group_reads(ends: np.ndarray, reads: np.ndarray) -> WriteOrder:
    """``reads[g]``: smallest input element group ``g`` reads; need = min over the groups after it."""
    suffix = np.minimum.accumulate(reads[::-1])[::-1]
    need = np.concatenate([suffix[1:], np.array([NO_READ], np.int64)])
    return WriteOrder(ends.astype(np.int64), need.astype(np.int64))


def _grouped(reads: np.ndarray, group: int) -> WriteOrder:
    n = reads.size
    pad = (-n) % group
    mins = np.concatenate([reads, np.full(pad, NO_READ, np.int64)]).reshape(-1, group).min(axis=1)
    ends = np.minimum(np.arange(1, mins.size + 1, dtype=np.int64) * group, n)
    return _from_group_reads(ends, mins)


def _ring_order(g: Graph, op: Op) -> WriteOrder:
    """Depthwise 3x3 row ring: group = output row; it reads (copies) the input rows no earlier row needed."""
    p = op_params(g, op)
    _, ih, iw, ic = g.tensor(op.inputs[0]).shape
    _, oh, ow, oc = g.tensor(op.outputs[0]).shape
    reads = np.full(oh, NO_READ, np.int64)
    seen = -1  # highest input row copied so far
    for oy in range(oh):
        lo = oy * int(p["stride_h"]) - int(p["pad_h"])
        hi = lo + (int(p["filter_h"]) - 1) * int(p["dilation_h"])
        first = max(lo, seen + 1, 0)
        if first <= min(hi, ih - 1):
            reads[oy] = first * iw * ic
        seen = max(seen, hi)
    return _from_group_reads(np.arange(1, oh + 1, dtype=np.int64) * ow * oc, reads)


def write_order(g: Graph, op: Op, pos: int = 0) -> WriteOrder | None:
    """How ``op`` writes its output against its input ``pos``; None: no model (never written over it)."""
    from crisp_eml.compiler.c.kernel_groups import MULTI_INPUT_INPLACE, PIXEL, ROW_RING, kernel_grouping
    from crisp_eml.compiler.opdefs import find

    if len(op.outputs) != 1 or not 0 <= pos < len(op.inputs) or op.inputs[pos] < 0:
        return None
    x, y = g.tensor(op.inputs[pos]), g.tensor(op.outputs[0])
    if x.is_constant or y.is_constant:
        return None
    d = find(g, op)
    if d is not None:
        if d.group is None or d.group < 1 or d.read_min is None or pos != 0:
            return None
        group, kind = int(d.group), None
    else:
        kind = kernel_grouping(g, op)
        if x.dtype != "int8" or y.dtype != "int8":  # the first-round kernels' contract is for int8 only
            return None
        if kind is None or (pos != 0 and op.type not in MULTI_INPUT_INPLACE):
            return None
        if kind == ROW_RING:
            return _ring_order(g, op)
        group = int(y.shape[-1]) if kind == PIXEL and y.shape else 1
    reads = element_reads(g, op, pos)
    n_out = int(np.prod(y.shape, dtype=np.int64))
    if reads is None or reads.size != n_out or n_out == 0:
        return None
    return _grouped(np.asarray(reads, np.int64), max(1, group))


def inplace_lag(g: Graph, op: Op, pos: int = 0) -> int | None:
    """Bytes the output must start below its input ``pos`` to be written over it; None if not allowed."""
    order = write_order(g, op, pos)
    if order is None:
        return None
    x, y = g.tensor(op.inputs[pos]), g.tensor(op.outputs[0])
    return order.lag(np.dtype(x.dtype).itemsize, np.dtype(y.dtype).itemsize, x.nbytes)
