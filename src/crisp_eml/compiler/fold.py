"""Graph rewrites that make open-batch Keras models compile: shape arithmetic folded at batch 1.

A Keras 3 model converted the default way (``keras.Input(shape=...)`` without a batch size) keeps the batch
open: ``Flatten`` computes its target shape at run time (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE), ``Conv1D``
inserts EXPAND_DIMS, and a dilated convolution becomes SPACE_TO_BATCH_ND -> CONV_2D/DEPTHWISE_CONV_2D (VALID,
undilated) -> BATCH_TO_SPACE_ND. TFLite Micro runs such a model at the shapes stored in the file (batch 1).
:func:`fold_graph` rewrites it into the ops the compiler has, computing exactly what TFLite Micro computes:

* EXPAND_DIMS becomes a RESHAPE (same bytes);
* SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND (with only reshapes between) becomes one conv with the
  block shape as its dilation: VALID when nothing is padded, SAME when the padding is SAME's and the input
  zero point is 0, else a PAD (``pad_value`` 0) and a VALID conv. TFLite Micro's SPACE_TO_BATCH_ND pads with
  code 0, not with the zero point (the desktop interpreter pads with the zero point), hence the explicit PAD;
* every op whose inputs are all constant and whose outputs are integer shape data (SHAPE of any tensor,
  STRIDED_SLICE, PACK, CONCATENATION, GATHER, arithmetic, CAST...) is evaluated now and its outputs become
  constants; a RESHAPE's computed target shape (``-1`` resolved) becomes its output shape.

Pure: returns a new graph, never changes the one given. Whatever cannot be folded is left for the reader's
op check to refuse by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from crisp_eml.core.graph import Graph, Op, Tensor

_ALIASES = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})
_CONVS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})
_SHAPE_DTYPES = frozenset({"int32", "int64"})


def fold_graph(g: Graph) -> Graph:
    """``g`` with EXPAND_DIMS as RESHAPE, dilated convs folded and shape arithmetic evaluated at batch 1."""
    g = replace(g, tensors=list(g.tensors), ops=[Op(op.index, op.type, list(op.inputs), list(op.outputs),
                                                    dict(op.options)) for op in g.ops])
    for op in g.ops:
        if op.type == "EXPAND_DIMS":
            op.type, op.inputs, op.options = "RESHAPE", op.inputs[:1], {}
    _fold_dilated(g)
    _fold_constants(g)
    _resolve_reshapes(g)
    g.ops = [Op(i, op.type, op.inputs, op.outputs, op.options) for i, op in enumerate(g.ops)]
    return g


# --- constant folding -------------------------------------------------------------------------------------


def _strided_slice(x: np.ndarray, begin: np.ndarray, end: np.ndarray, strides: np.ndarray,
                   o: dict[str, Any]) -> np.ndarray:
    if int(o.get("ellipsis_mask", 0)) or int(o.get("new_axis_mask", 0)):
        raise ValueError("ellipsis/new-axis masks")
    bm, em, sm = int(o.get("begin_mask", 0)), int(o.get("end_mask", 0)), int(o.get("shrink_axis_mask", 0))
    idx: list[Any] = []
    for d in range(x.ndim):
        if d >= len(begin):
            idx.append(slice(None))
            continue
        b, e, s = int(begin[d]), int(end[d]), int(strides[d])
        if o.get("offset"):
            e += b
        if sm >> d & 1:
            idx.append(b)
            continue
        idx.append(slice(None if bm >> d & 1 else b, None if em >> d & 1 else e, s))
    return np.asarray(x[tuple(idx)])


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def run(args: list[np.ndarray], o: dict[str, Any]) -> np.ndarray:
        if str(o.get("fused_activation_function", "NONE")) != "NONE":
            raise ValueError("fused activation on shape data")
        return fn(args[0], args[1])

    return run


_EVAL: dict[str, Callable[[list[np.ndarray], dict[str, Any]], np.ndarray]] = {
    "STRIDED_SLICE": lambda a, o: _strided_slice(a[0], a[1], a[2], a[3], o),
    "PACK": lambda a, o: np.stack(a, axis=int(o.get("axis", 0))),
    "CONCATENATION": lambda a, o: np.concatenate([np.atleast_1d(x) for x in a], axis=int(o.get("axis", 0))),
    "GATHER": lambda a, o: np.take(a[0], a[1].astype(np.int64), axis=int(o.get("axis", 0))),
    "ADD": _binary(np.add), "SUB": _binary(np.subtract), "MUL": _binary(np.multiply),
    "FLOOR_DIV": _binary(np.floor_divide), "MAXIMUM": _binary(np.maximum), "MINIMUM": _binary(np.minimum),
    "CAST": lambda a, o: a[0],
    "RESHAPE": lambda a, o: a[0], "SQUEEZE": lambda a, o: a[0], "EXPAND_DIMS": lambda a, o: a[0],
    "REDUCE_PROD": lambda a, o: np.prod(a[0], axis=tuple(int(v) for v in np.atleast_1d(a[1])),
                                        keepdims=bool(o.get("keep_dims", False))),
    "FILL": lambda a, o: np.full([int(v) for v in np.atleast_1d(a[0])], a[1]),
}


def _fold_constants(g: Graph) -> None:
    """Evaluate ops over constant integer data (and SHAPE of any tensor) in order; their outputs become data."""
    kept: list[Op] = []
    for op in g.ops:
        outs = [g.tensor(i) for i in op.outputs]
        foldable = len(outs) == 1 and outs[0].dtype in _SHAPE_DTYPES
        value: np.ndarray | None = None
        if foldable and op.type == "SHAPE" and op.inputs and op.inputs[0] >= 0:
            value = np.asarray(g.tensor(op.inputs[0]).shape, np.int64)
        elif foldable and op.type in _EVAL and all(i >= 0 and g.tensor(i).is_constant for i in op.inputs):
            try:
                value = np.asarray(_EVAL[op.type]([np.asarray(g.tensor(i).data) for i in op.inputs], op.options))
            except (ValueError, IndexError, TypeError):
                value = None
        if value is None:
            kept.append(op)
            continue
        t = outs[0]
        if t.shape and value.size == int(np.prod(t.shape)):
            value = value.reshape(t.shape)
        g.tensors[t.index] = replace(t, shape=tuple(int(d) for d in value.shape), data=value.astype(t.dtype))
    g.ops = kept


def _resolve_reshapes(g: Graph) -> None:
    """A RESHAPE whose target shape is a constant now gets that shape (``-1`` resolved) as its output's."""
    for op in g.ops:
        if op.type != "RESHAPE" or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        st, x, y = g.tensor(op.inputs[1]), g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
        if st.data is None or st.data.ndim > 1:
            continue
        dims = [int(v) for v in np.atleast_1d(st.data)]
        n = int(np.prod(x.shape)) if x.shape else 1
        known = int(np.prod([d for d in dims if d != -1])) if dims else 1
        if dims.count(-1) == 1 and known > 0 and n % known == 0:
            dims[dims.index(-1)] = n // known
        if all(d >= 0 for d in dims) and int(np.prod(dims)) == n and tuple(dims) != y.shape:
            g.tensors[y.index] = replace(y, shape=tuple(dims))


# --- dilated convolutions ---------------------------------------------------------------------------------


def _consumers(g: Graph, ti: int) -> list[Op]:
    return [op for op in g.ops if ti in op.inputs]


def _single_chain(g: Graph, ti: int) -> tuple[list[Op], Op | None]:
    """Follow ``ti`` through reshape-like ops with one consumer each; (the alias ops, the first other op)."""
    chain: list[Op] = []
    while True:
        users = _consumers(g, ti)
        if len(users) != 1 or ti in g.outputs:
            return chain, None
        op = users[0]
        if op.type not in _ALIASES:
            return chain, op
        chain.append(op)
        ti = op.outputs[0]


def _same_quant(a: Tensor, b: Tensor) -> bool:
    return (a.dtype == b.dtype and np.array_equal(a.scale, b.scale)
            and np.array_equal(a.zero_point, b.zero_point))


def _ints(t: Tensor) -> list[int] | None:
    return None if t.data is None else [int(v) for v in np.asarray(t.data).reshape(-1)]


def _conv_pads(sizes: list[int], outs: list[int], kernel: list[int], block: list[int], pads: list[int],
               crops: list[int]) -> list[int] | None:
    """Explicit (before, after) padding per spatial dim of the VALID dilated conv equal to space-to-batch
    padding + VALID conv + batch-to-space crops, or None when they are not such a conv. Cropping the first
    ``c0`` / last ``c1`` outputs is padding ``c0`` / ``c1`` less."""
    out_pads: list[int] = []
    for n, out, k, b, (p0, p1), (c0, c1) in zip(sizes, outs, kernel, block, zip(pads[::2], pads[1::2], strict=True),
                                                zip(crops[::2], crops[1::2], strict=True), strict=True):
        padded = n + p0 + p1
        if b < 1 or padded % b or min(p0, p1, c0, c1) < 0 or p0 < c0 or p1 < c1:
            return None
        per_block = padded // b - k + 1
        if per_block < 1 or per_block * b - c0 - c1 != out:
            return None
        out_pads += [p0 - c0, p1 - c1]
    return out_pads


def _fold_dilated(g: Graph) -> None:
    for stb in [op for op in g.ops if op.type == "SPACE_TO_BATCH_ND"]:
        _fold_one(g, stb)


def _fold_one(g: Graph, stb: Op) -> None:
    if len(stb.inputs) != 3 or stb not in g.ops:
        return
    x = g.tensor(stb.inputs[0])
    block, pads = _ints(g.tensor(stb.inputs[1])), _ints(g.tensor(stb.inputs[2]))
    pre, conv = _single_chain(g, stb.outputs[0])
    if block is None or pads is None or conv is None or conv.type not in _CONVS or conv.inputs[0] != (
            pre[-1].outputs[0] if pre else stb.outputs[0]):
        return
    post, bts = _single_chain(g, conv.outputs[0])
    if bts is None or bts.type != "BATCH_TO_SPACE_ND" or len(bts.inputs) != 3 or bts.inputs[0] != (
            post[-1].outputs[0] if post else conv.outputs[0]):
        return
    crops = _ints(g.tensor(bts.inputs[2]))
    y = g.tensor(bts.outputs[0])
    o = conv.options
    if (crops is None or _ints(g.tensor(bts.inputs[1])) != block or x.dtype != y.dtype
            or not _same_quant(x, g.tensor(stb.outputs[0])) or not _same_quant(x, g.tensor(conv.inputs[0]))
            or not _same_quant(y, g.tensor(conv.outputs[0])) or not _same_quant(y, g.tensor(bts.inputs[0]))
            or int(o.get("stride_h", 1)) != 1 or int(o.get("stride_w", 1)) != 1
            or int(o.get("dilation_hfactor", 1)) != 1 or int(o.get("dilation_wfactor", 1)) != 1
            or str(o.get("padding")) != "VALID"):
        return
    w = g.tensor(conv.inputs[1])
    if len(x.shape) == 4 and len(y.shape) == 4 and len(block) == 2:
        x4, y4 = x.shape, y.shape
    elif len(x.shape) == 3 and len(y.shape) == 3 and len(block) == 1:  # Conv1D: [N, W, C] seen as [N, 1, W, C]
        x4, y4 = (x.shape[0], 1, *x.shape[1:]), (y.shape[0], 1, *y.shape[1:])
        block, pads, crops = [1, *block], [0, 0, *pads], [0, 0, *crops]
    else:
        return
    if len(w.shape) != 4 or len(pads) != 4 or len(crops) != 4 or x4[0] != 1 or y4[0] != 1:
        return
    cpads = _conv_pads([x4[1], x4[2]], [y4[1], y4[2]], [w.shape[1], w.shape[2]], block, pads, crops)
    if cpads is None:
        return
    new_ops: list[Op] = []
    xi, yi = x.index, y.index
    if x4 != x.shape:
        xi = _new_tensor(g, x, x4, "/nhwc")
        new_ops.append(Op(0, "RESHAPE", [x.index], [xi], {}))
    mode = "VALID"
    eff = [(w.shape[1] - 1) * block[0] + 1, (w.shape[2] - 1) * block[1] + 1]
    same = all(cpads[2 * d] == (eff[d] - 1) // 2 and y4[1 + d] == x4[1 + d] for d in range(2))
    if any(cpads) and same and int(x.zero_point[0]) == 0:
        mode = "SAME"  # the conv's implicit padding is the zero point: code 0 here, as space-to-batch pads
    elif any(cpads):  # TFLite Micro's SPACE_TO_BATCH_ND pads with code 0, not the zero point: pad explicitly
        ci = len(g.tensors)
        g.tensors.append(Tensor(ci, x.name + "/paddings", (4, 2), "int32",
                                data=np.array([[0, 0], cpads[0:2], cpads[2:4], [0, 0]], np.int32)))
        pi = _new_tensor(g, x, (1, x4[1] + cpads[0] + cpads[1], x4[2] + cpads[2] + cpads[3], x4[3]), "/padded")
        new_ops.append(Op(0, "PAD", [xi, ci], [pi], {"pad_value": 0}))
        xi = pi
    if y4 != y.shape:
        yi = _new_tensor(g, y, y4, "/nhwc")
    opts = {**o, "padding": mode, "dilation_hfactor": block[0], "dilation_wfactor": block[1]}
    new_ops.append(Op(0, conv.type, [xi, *conv.inputs[1:]], [yi], opts))
    if yi != y.index:
        new_ops.append(Op(0, "RESHAPE", [yi], [y.index], {}))
    dead = {id(op) for op in (stb, *pre, conv, *post)}
    out: list[Op] = []
    for op in g.ops:
        if op is bts:
            out.extend(new_ops)
        elif id(op) not in dead:
            out.append(op)
    g.ops = out


def _new_tensor(g: Graph, like: Tensor, shape: tuple[int, ...], suffix: str) -> int:
    t = replace(like, index=len(g.tensors), name=like.name + suffix, shape=tuple(int(d) for d in shape), data=None)
    g.tensors.append(t)
    return t.index
