"""int16 (16x8 mode) CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE/MAX_POOL_2D and MEAN.

Constants are the int8 ones (TFLM's Prepare is shared: per-channel multipliers, padding, pool geometry, the MEAN
multiplier with its extra precision bits) with the fused activation clamped to the int16 range, plus ``acc64``:
TFLM accumulates in int64 and requantizes with the int64 ``MultiplyByQuantizedMultiplier`` when the bias is int64
(the converter's default) or absent with an int64 ``quantized_bias_type``; an int32 bias selects its int32 path
(CONV_2D and FULLY_CONNECTED only: its DEPTHWISE_CONV_2D reads the bias as int64, so an int32 one is refused).
Numpy: ``reference.s16``; C: ``eml_ops_s16.c``. Never in place (the planner keeps these outputs apart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.compiler import params as p8
from crisp_eml.compiler.opdefs import OpDef, register
from crisp_eml.compiler.opdefs.s16_util import FAMILY, act16, as4d, fields, need_zero_points, ptr
from crisp_eml.compiler.reference import s16
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op

if TYPE_CHECKING:
    from crisp_eml.compiler.c.lower import LowerCtx

_TENSOR_TYPE_INT32 = 2  # tflite TensorType.INT32 in ``quantized_bias_type``


def _bias(g: Graph, op: Op) -> np.ndarray | None:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = g.tensor(op.inputs[2])
        if b.data is None:
            raise InputError(f"operator {op.index} ({op.type}): bias must be constant")
        return np.asarray(b.data, np.int64).reshape(-1)
    return None


def _acc64(g: Graph, op: Op) -> bool:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        dt = g.tensor(op.inputs[2]).dtype
        if dt not in ("int32", "int64"):
            raise InputError(f"operator {op.index} ({op.type}): {dt} bias; int16x8 needs an int64 or int32 bias")
        if dt == "int32" and op.type == "DEPTHWISE_CONV_2D":
            raise InputError(f"operator {op.index} (DEPTHWISE_CONV_2D): int32 bias in an int16x8 model (TFLite Micro "
                             "reads it as int64); reconvert the model")
        return dt == "int64"
    return op.type == "DEPTHWISE_CONV_2D" or int(op.options.get("quantized_bias_type", 0)) != _TENSOR_TYPE_INT32


def _check_shifts(op: Op, p: dict[str, Any]) -> None:
    if p["acc64"] and any(not -31 <= int(s) <= 7 for s in p["output_shift"]):
        raise InputError(f"operator {op.index} ({op.type}): requantization shift outside [-31, 7] (input, weight "
                         "and output scales are out of the range TFLite Micro's int16 kernels handle)")


def _conv_params(g: Graph, op: Op) -> dict[str, Any]:
    need_zero_points(g, op, op.inputs[0], op.outputs[0])
    p = p8._conv(g, op)
    p["act_min"], p["act_max"] = act16(op, g.tensor(op.outputs[0]))
    p["acc64"] = _acc64(g, op)
    _check_shifts(op, p)
    return p


def _fc_params(g: Graph, op: Op) -> dict[str, Any]:
    need_zero_points(g, op, op.inputs[0], op.outputs[0])
    p = p8._fc(g, op)
    p["act_min"], p["act_max"] = act16(op, g.tensor(op.outputs[0]))
    p["acc64"] = _acc64(g, op)
    _check_shifts(op, p)
    return p


def _pool_params(g: Graph, op: Op) -> dict[str, Any]:
    p = p8._pool(g, op)
    p["act_min"], p["act_max"] = act16(op, g.tensor(op.outputs[0]))
    return p


def _arr(args: list[np.ndarray | None], k: int) -> np.ndarray | None:
    return args[k] if len(args) > k else None


def _need(a: np.ndarray | None) -> np.ndarray:
    if a is None:
        raise ValueError("a required input is missing")
    return a


def _shape(g: Graph, op: Op) -> tuple[int, ...]:
    return tuple(int(d) for d in g.tensor(op.outputs[0]).shape)


def _ref_conv(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    fn = s16.conv_2d if op.type == "CONV_2D" else s16.depthwise_conv_2d
    return fn(_need(args[0]), _need(args[1]), _arr(args, 2), p, _shape(g, op))


def _ref_fc(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    return s16.fully_connected(_need(args[0]), _need(args[1]), _arr(args, 2), p, _shape(g, op))


def _ref_pool(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    fn = s16.average_pool_2d if op.type == "AVERAGE_POOL_2D" else s16.max_pool_2d
    return fn(_need(args[0]), p, _shape(g, op))


def _ref_mean(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    return s16.mean(_need(args[0]), p, _shape(g, op))


def _requant_arrays(ctx: LowerCtx, p: dict[str, Any]) -> tuple[str, str]:
    return (ctx.add_array("int32_t", "mult", np.asarray(p["output_multiplier"], np.int64)),
            ctx.add_array("int32_t", "shift", np.asarray(p["output_shift"], np.int64)))


def _lower_conv(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _conv_params(g, op)
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    w = g.tensor(op.inputs[1])
    if w.data is None or w.dtype != "int8":
        raise InputError(f"operator {op.index} ({op.type}): weights must be constant int8")
    n, ih, iw, ic = as4d(x.shape, op)
    _, oh, ow, oc = as4d(y.shape, op)
    if n != 1:
        raise InputError(f"operator {op.index} ({op.type}): batch size {n} is not supported")
    dm = int(p.get("depth_multiplier", 0))
    if op.type == "DEPTHWISE_CONV_2D" and ic * dm != oc:
        raise InputError(f"operator {op.index} (DEPTHWISE_CONV_2D): {oc} output channels are not a multiple of "
                         f"{ic} input channels")
    bias = _bias(g, op)
    if bias is not None and bias.size != oc:
        raise InputError(f"operator {op.index} ({op.type}): bias has {bias.size} values for {oc} output channels")
    wn = ctx.add_array("int8_t", "w", np.asarray(w.data, np.int64))
    b = ctx.add_array("int64_t", "bias", bias) if bias is not None else "NULL"
    m, s = _requant_arrays(ctx, p)
    geo = dict(in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, depth_mul=dm, k_h=p["filter_h"],
               k_w=p["filter_w"], stride_h=p["stride_h"], stride_w=p["stride_w"], dil_h=p["dilation_h"],
               dil_w=p["dilation_w"], pad_h=p["pad_h"], pad_w=p["pad_w"], act_min=p["act_min"], act_max=p["act_max"],
               acc64=int(p["acc64"]))
    ps = ctx.add_struct("eml_conv_s16_params_t", fields(geo, tuple(geo)))
    fn = "eml_conv2d_s16" if op.type == "CONV_2D" else "eml_dwconv2d_s16"
    ctx.layer.call = f"{fn}(&{ps}, {ptr(ctx, op.inputs[0], True)}, {wn}, {b}, {m}, {s}, {ptr(ctx, op.outputs[0])});"


def _lower_fc(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _fc_params(g, op)
    w = g.tensor(op.inputs[1])
    if w.data is None or w.dtype != "int8":
        raise InputError(f"operator {op.index} (FULLY_CONNECTED): weights must be constant int8")
    out_depth, in_depth = int(p["output_depth"]), int(p["accum_depth"])
    bias = _bias(g, op)
    if bias is not None and bias.size != out_depth:
        raise InputError(f"operator {op.index} (FULLY_CONNECTED): bias has {bias.size} values for {out_depth} outputs")
    size = int(np.prod(g.tensor(op.inputs[0]).shape))
    wn = ctx.add_array("int8_t", "w", np.asarray(w.data, np.int64))
    b = ctx.add_array("int64_t", "bias", bias) if bias is not None else "NULL"
    m, s = _requant_arrays(ctx, p)
    f = dict(batches=size // in_depth, in_depth=in_depth, out_depth=out_depth, per_channel=int(p["per_channel"]),
             in_offset=p["input_offset"], filter_offset=p["filter_offset"], out_offset=p["output_offset"],
             act_min=p["act_min"], act_max=p["act_max"], acc64=int(p["acc64"]))
    ps = ctx.add_struct("eml_fc_s16_params_t", fields(f, tuple(f)))
    x, y = ptr(ctx, op.inputs[0], True), ptr(ctx, op.outputs[0])
    ctx.layer.call = f"eml_fc_s16(&{ps}, {x}, {wn}, {b}, {m}, {s}, {y});"


def _lower_pool(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _pool_params(g, op)
    n, ih, iw, c = as4d(g.tensor(op.inputs[0]).shape, op)
    _, oh, ow, _ = as4d(g.tensor(op.outputs[0]).shape, op)
    f = dict(batches=n, in_h=ih, in_w=iw, ch=c, out_h=oh, out_w=ow, k_h=p["filter_h"], k_w=p["filter_w"],
             stride_h=p["stride_h"], stride_w=p["stride_w"], pad_h=p["pad_h"], pad_w=p["pad_w"], act_min=p["act_min"],
             act_max=p["act_max"])
    ps = ctx.add_struct("eml_pool_s16_params_t", fields(f, tuple(f)))
    fn = "eml_avgpool_s16" if op.type == "AVERAGE_POOL_2D" else "eml_maxpool_s16"
    ctx.layer.call = f"{fn}(&{ps}, {ptr(ctx, op.inputs[0], True)}, {ptr(ctx, op.outputs[0])});"


def _lower_mean(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = p8._mean(g, op)
    x = g.tensor(op.inputs[0])
    shape = as4d(x.shape, op)
    lead = 4 - len(x.shape)
    red = [int(d - lead in p["axes"]) for d in range(4)]
    f = dict(shape=shape, red=red, count=p["num_elements"], input_zero_point=p["input_zero_point"],
             output_zero_point=p["output_zero_point"], multiplier=p["output_multiplier"], shift=p["output_shift"])
    ps = ctx.add_struct("eml_mean_s16_params_t", fields(f, tuple(f)))
    ctx.layer.call = f"eml_mean_s16(&{ps}, {ptr(ctx, op.inputs[0], True)}, {ptr(ctx, op.outputs[0])});"


for _t in ("CONV_2D", "DEPTHWISE_CONV_2D"):
    register(OpDef(_t, "int16", _conv_params, _ref_conv, _lower_conv, c_families=(FAMILY,)))
register(OpDef("FULLY_CONNECTED", "int16", _fc_params, _ref_fc, _lower_fc, c_families=(FAMILY,)))
for _t in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
    register(OpDef(_t, "int16", _pool_params, _ref_pool, _lower_pool, c_families=(FAMILY,)))
register(OpDef("MEAN", "int16", p8._mean, _ref_mean, _lower_mean, c_families=(FAMILY,)))
