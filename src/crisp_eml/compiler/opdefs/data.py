"""int8 REDUCE_MAX, REDUCE_MIN, SPLIT, SPLIT_V, PACK, UNPACK and GATHER, as TFLite Micro computes them.

None of them rescales: TFLM's int8 REDUCE_MAX/MIN refuse an output whose scale or zero point differs from the
input's (the converter keeps them equal) and then compare codes; SPLIT/SPLIT_V/UNPACK/PACK/GATHER copy bytes.
Axes, split sizes and gather indices are constants read once here (SPLIT_V's sizes from the resolved output
shapes, as TFLM does). The C lives in ``c/eml_ops_data.c`` (PACK reuses ``eml_concat_s8``); SPLIT, SPLIT_V
and UNPACK have several outputs, each written through its own arena address. None runs in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.compiler.opdefs import OpDef, register
from crisp_eml.compiler.params import _const
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor

if TYPE_CHECKING:
    from crisp_eml.compiler.c.lower import LowerCtx

FAMILY = ("eml_ops_data",)


def _scale(t: Tensor) -> float:
    return float(t.scale[0]) if len(t.scale) else 0.0


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if len(t.zero_point) else 0


def _axis(op: Op, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise InputError(f"operator {op.index} ({op.type}): axis {axis} is out of range for rank {rank}")
    return axis % rank


def _prod(xs: Any) -> int:
    return int(np.prod([int(v) for v in xs], dtype=np.int64))


def _as4d(shape: tuple[int, ...], op: Op) -> list[int]:
    if len(shape) > 4:
        raise InputError(f"operator {op.index} ({op.type}): tensors of rank {len(shape)} > 4 are not supported")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _int8_data(g: Graph, op: Op, k: int) -> str:
    t = g.tensor(op.inputs[k])
    if t.dtype != "int8":
        raise InputError(f"operator {op.index} ({op.type}): input {k} is {t.dtype}; only int8 data is supported")
    return t.dtype


# ---------------------------------------------------------------- REDUCE_MAX / REDUCE_MIN

def reduce_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if _scale(x) != _scale(y) or _zp(x) != _zp(y):
        raise InputError(f"operator {op.index} ({op.type}): int8 input and output must share scale and zero point "
                         f"(as TFLite Micro requires); got {_scale(x):g}/{_zp(x)} and {_scale(y):g}/{_zp(y)}")
    rank = len(x.shape)
    axes = sorted({_axis(op, a, rank) for a in _const(g, op, 1, "axis")})
    return {"axes": axes, "keep_dims": bool(op.options.get("keep_dims", False)), "is_min": op.type == "REDUCE_MIN"}


def reduce_ref(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x = args[0]
    assert x is not None
    if not p["axes"]:
        return np.asarray(x)
    fn = np.min if p["is_min"] else np.max
    return np.asarray(fn(x, axis=tuple(p["axes"]), keepdims=True))


def reduce_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    x = g.tensor(op.inputs[0])
    p = reduce_params(g, op)
    lead = 4 - len(x.shape)
    ps = ctx.add_struct("eml_reduce_params_t", {
        "shape": _as4d(tuple(x.shape), op), "red": [int(d - lead in p["axes"]) for d in range(4)],
        "is_min": int(p["is_min"])})
    ctx.layer.call = f"eml_reduce_minmax_s8(&{ps}, {ctx.operand(0, 'in')}, {ctx.ptr(op.outputs[0])});"


# ---------------------------------------------------------------- SPLIT / SPLIT_V / UNPACK

def _data_index(op: Op) -> int:
    return 1 if op.type == "SPLIT" else 0


def split_params(g: Graph, op: Op) -> dict[str, Any]:
    x = g.tensor(op.inputs[_data_index(op)])
    rank = len(x.shape)
    if op.type == "UNPACK":
        axis = _axis(op, int(op.options.get("axis", 0)), rank)
        sizes = [1] * len(op.outputs)
        if int(op.options.get("num", len(op.outputs))) != len(op.outputs):
            raise InputError(f"operator {op.index} (UNPACK): num does not match the {len(op.outputs)} outputs")
    else:
        axis = _axis(op, _const(g, op, 0 if op.type == "SPLIT" else 2, "axis")[0], rank)
        sizes = [int(g.tensor(t).shape[axis]) if len(g.tensor(t).shape) == rank else -1 for t in op.outputs]
    if sum(sizes) != int(x.shape[axis]) or min(sizes) < 0:
        raise InputError(f"operator {op.index} ({op.type}): output sizes {sizes} do not split axis {axis} of "
                         f"shape {tuple(x.shape)}")
    return {"axis": axis, "sizes": sizes}


def split_ref(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> list[np.ndarray]:
    x = args[_data_index(op)]
    assert x is not None
    cuts = np.cumsum(p["sizes"])[:-1]
    return [np.asarray(part) for part in np.split(np.asarray(x), cuts, axis=p["axis"])]


def split_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    k = _data_index(op)
    _int8_data(g, op, k)
    x = g.tensor(op.inputs[k])
    p = split_params(g, op)
    axis = p["axis"]
    outer, inner = _prod(x.shape[:axis]), _prod(x.shape[axis + 1:])
    outs = ", ".join(f"(int8_t *){ctx.ptr(t)}" for t in op.outputs)
    ctx.layer.decls.append(f"static int8_t *const {ctx.p}_outs[{len(op.outputs)}] = {{{outs}}};")
    inn = ctx.add_array("int32_t", "inner", np.asarray([s * inner for s in p["sizes"]], np.int64))
    ctx.layer.call = (f"eml_split_s8({outer}, {len(op.outputs)}, {inn}, {ctx.p}_outs, "
                      f"{ctx.operand(k, 'in')});")


# ---------------------------------------------------------------- PACK

def pack_params(g: Graph, op: Op) -> dict[str, Any]:
    rank = len(g.tensor(op.inputs[0]).shape)
    shapes = {tuple(g.tensor(t).shape) for t in op.inputs}
    if len(shapes) != 1:
        raise InputError(f"operator {op.index} (PACK): inputs have different shapes {sorted(shapes)}")
    return {"axis": _axis(op, int(op.options.get("axis", 0)), rank + 1)}


def pack_ref(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    return np.stack([np.asarray(a) for a in args if a is not None], axis=p["axis"])


def pack_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    for k in range(len(op.inputs)):
        _int8_data(g, op, k)
    shape = g.tensor(op.inputs[0]).shape
    axis = pack_params(g, op)["axis"]
    n = len(op.inputs)
    srcs = [ctx.operand(k, f"in{k}") for k in range(n)]
    ctx.layer.decls.append(f"static const int8_t *const {ctx.p}_ins[{n}] = {{{', '.join(srcs)}}};")
    inn = ctx.add_array("int32_t", "inner", np.full(n, _prod(shape[axis:]), np.int64))
    ctx.layer.call = f"eml_concat_s8({_prod(shape[:axis])}, {n}, {ctx.p}_ins, {inn}, {ctx.ptr(op.outputs[0])});"


# ---------------------------------------------------------------- GATHER

def gather_params(g: Graph, op: Op) -> dict[str, Any]:
    x, c = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    if c.dtype not in ("int32", "int64"):
        raise InputError(f"operator {op.index} (GATHER): indices must be int32 or int64, got {c.dtype}")
    axis = _axis(op, int(op.options.get("axis", 0)), len(x.shape))
    bd = int(op.options.get("batch_dims", 0))
    bd = bd + len(c.shape) if bd < 0 else bd
    if not 0 <= bd <= min(axis, len(c.shape)) or tuple(x.shape[:bd]) != tuple(c.shape[:bd]):
        raise InputError(f"operator {op.index} (GATHER): batch_dims {bd} does not fit input shape "
                         f"{tuple(x.shape)}, indices shape {tuple(c.shape)} and axis {axis}")
    batch = _prod(x.shape[:bd])
    return {"axis": axis, "batch_dims": bd, "batch": batch, "outer": _prod(x.shape[:axis]) // max(batch, 1),
            "axis_size": int(x.shape[axis]), "coord_size": _prod(c.shape[bd:]), "inner": _prod(x.shape[axis + 1:])}


def gather_ref(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x, c = args[0], args[1]
    assert x is not None and c is not None
    coords = np.asarray(c, np.int64).reshape(p["batch"], p["coord_size"])
    if coords.size and (coords.min() < 0 or coords.max() >= p["axis_size"]):
        raise ValueError(f"gather index out of range [0, {p['axis_size']})")
    src = np.asarray(x).reshape(p["batch"], p["outer"], p["axis_size"], p["inner"])
    out = src[np.arange(p["batch"])[:, None, None], np.arange(p["outer"])[None, :, None], coords[:, None, :]]
    return np.asarray(out)


def gather_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    _int8_data(g, op, 0)
    p = gather_params(g, op)
    coords = np.asarray(_const(g, op, 1, "indices (in C)"), np.int64)
    if coords.size and (coords.min() < 0 or coords.max() >= p["axis_size"]):
        raise InputError(f"operator {op.index} (GATHER): an index is outside [0, {p['axis_size']})")
    ci = ctx.add_array("int32_t", "idx", coords)
    ps = ctx.add_struct("eml_gather_axis_params_t", {k: p[k] for k in ("batch", "outer", "axis_size", "coord_size",
                                                                      "inner")})
    ctx.layer.call = f"eml_gather_axis_s8(&{ps}, {ci}, {ctx.operand(0, 'in')}, {ctx.ptr(op.outputs[0])});"


for _t in ("REDUCE_MAX", "REDUCE_MIN"):
    register(OpDef(_t, "int8", reduce_params, reduce_ref, reduce_lower, c_families=FAMILY))
for _t in ("SPLIT", "SPLIT_V", "UNPACK"):
    register(OpDef(_t, "int8", split_params, split_ref, split_lower, c_families=FAMILY))
register(OpDef("PACK", "int8", pack_params, pack_ref, pack_lower, sections=("concat",)))
register(OpDef("GATHER", "int8", gather_params, gather_ref, gather_lower, c_families=FAMILY))
