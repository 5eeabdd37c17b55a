"""int16 (16x8 mode) ADD, SUB, MUL, SOFTMAX, LOGISTIC, TANH, QUANTIZE, RELU, RELU6, RESHAPE and SQUEEZE.

Constants follow TFLM's Prepare for int16: ADD/SUB rescale both inputs to ``2 * max(scale)`` with left shift 15
(ADD computes the ratios in double, SUB in float32, as the two kernels do); MUL, RELU and QUANTIZE use one
``QuantizeMultiplier`` of the scale ratio (RELU's ratio is a float32 division); SOFTMAX rescales the row
difference so [-65535, 0] maps onto [-10, 0] for its exp table; LOGISTIC/TANH scale the input to Q3.12 with
an integer multiplier (``3 << shift`` for a power-of-two scale). QUANTIZE covers int16 <-> int8 and int16 ->
int16 in C, float -> int16 in the reference (the library's float boundary is ``<name>_run``'s). Numpy:
``reference.s16``; C: ``eml_ops_s16.c``. Never in place (RESHAPE/SQUEEZE alias their input in the planner).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.compiler.opdefs import OpDef, register
from crisp_eml.compiler.opdefs.s16_util import (
    FAMILY,
    I16,
    act16,
    as4d,
    dtype_range,
    fields,
    need_zero_points,
    operand16,
    ptr,
    scale,
    zp,
)
from crisp_eml.compiler.reference import s16, s16_tables
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op
from crisp_eml.core.quant import quantize_multiplier, quantize_value

if TYPE_CHECKING:
    from crisp_eml.compiler.c.lower import LowerCtx

_F = np.float32


def _add_sub_params(g: Graph, op: Op) -> dict[str, Any]:
    a, b, y = (g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0]))
    ls = 15
    # ADD and SUB alike in double, as the installed TFLM runtime computes them (some sub_common.cc sources take
    # the ratios in float32, which moves bytes: tests/golden/test_multiplier_precision.py)
    twice = 2.0 * float(max(_F(scale(a)), _F(scale(b))))
    r1, r2 = scale(a) / twice, scale(b) / twice
    ro = twice / ((1 << ls) * scale(y))
    m1, s1 = quantize_multiplier(r1)
    m2, s2 = quantize_multiplier(r2)
    mo, so = quantize_multiplier(ro)
    lo, hi = act16(op, y)
    return {"left_shift": ls, "input1_offset": -zp(a), "input2_offset": -zp(b), "output_offset": zp(y),
            "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2, "input2_shift": s2,
            "output_multiplier": mo, "output_shift": so, "act_min": lo, "act_max": hi}


def _mul_params(g: Graph, op: Op) -> dict[str, Any]:
    a, b, y = (g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0]))
    need_zero_points(g, op, op.inputs[0], op.inputs[1], op.outputs[0])
    m, s = quantize_multiplier(scale(a) * scale(b) / scale(y))
    lo, hi = act16(op, y)
    return {"input1_offset": -zp(a), "input2_offset": -zp(b), "output_offset": zp(y), "output_multiplier": m,
            "output_shift": s, "left_shift": 0, "act_min": lo, "act_max": hi}


def _softmax_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if x.dtype != "int16" or y.dtype != "int16":
        raise InputError(f"operator {op.index} (SOFTMAX): int16 softmax needs int16 input and output")
    need_zero_points(g, op, op.inputs[0], op.outputs[0])
    if abs(scale(y) - 1.0 / 32768) > 0.001 / 32768:
        raise InputError(f"operator {op.index} (SOFTMAX): int16 output must have scale 1/32768")
    beta = float(op.options.get("beta", 1.0))
    m, s = quantize_multiplier(float(_F(scale(x))) * beta / (10.0 / 65535.0))
    return {"input_multiplier": m, "input_left_shift": s}


def _libm_logf(x: float) -> float:
    name = ctypes.util.find_library("m")
    try:
        fn = (ctypes.CDLL(name) if name else ctypes.CDLL(None)).logf
    except (OSError, AttributeError):  # pragma: no cover - every libc has logf
        return float(_F(math.log(x)))
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return float(fn(x))


def _checked_log2(x: float) -> tuple[bool, int]:
    """``CheckedLog2(float)``: float32 ``log(x) * (1 / log(2))``, rounded; exact when within 1e-3."""
    lg = _F(_F(_libm_logf(x)) * _F(_F(1.0) / _F(_libm_logf(2.0))))
    r = s16_tables.round_f32(lg)
    return bool(abs(_F(lg - r)) < _F(1e-3)), int(r)


def _sigmoid_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if x.dtype != "int16" or y.dtype != "int16":
        raise InputError(f"operator {op.index} ({op.type}): int16 {op.type} needs int16 input and output")
    need_zero_points(g, op, op.inputs[0], op.outputs[0])
    pot, log2 = _checked_log2(float(_F(scale(x))))
    shift = (15 - 3) + log2
    pot = pot and (shift == 0 or (op.type == "TANH" and shift == 1))
    mult = 0
    if not pot:
        real = float(_F(scale(x))) * 4096.0 * 3.0
        shift = 0
        while real <= 32767.0 / 2.0 and shift <= 30:
            shift += 1
            real *= 2.0
        mult = int(real)
    out_pot, out_log2 = _checked_log2(float(_F(scale(y))))
    if not out_pot or out_log2 != -15:
        raise InputError(f"operator {op.index} ({op.type}): int16 output must have scale 2^-15")
    if mult > 32767:
        raise InputError(f"operator {op.index} ({op.type}): input scale {scale(x)} is too large for int16")
    return {"input_multiplier": mult, "input_left_shift": shift}


def _quantize_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    lo, hi = dtype_range(y, op)
    if x.dtype == "float32":
        return {"mode": "float", "scale": float(_F(scale(y))), "zero_point": zp(y), "out_min": lo, "out_max": hi}
    dtype_range(x, op)
    m, s = quantize_multiplier(scale(x) / scale(y))
    return {"mode": "requantize", "input_zero_point": zp(x), "output_zero_point": zp(y), "multiplier": m, "shift": s,
            "out_min": lo, "out_max": hi}


def _relu_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    need_zero_points(g, op, op.inputs[0], op.outputs[0])
    if op.type == "RELU6":
        # FloatToQuantizedType<int16_t>: clamped to the int16 range
        six = min(max(quantize_value(6.0, scale(x), zp(x)), I16[0]), I16[1])
        return {"zero": zp(x), "six": six}
    m, s = quantize_multiplier(scale(x) / scale(y))  # in double, as int8 RELU (test_multiplier_precision.py)
    return {"input_offset": zp(x), "output_offset": zp(y), "output_multiplier": m, "output_shift": s,
            "act_min": max(I16[0], zp(y)), "act_max": I16[1]}


def _need(a: np.ndarray | None) -> np.ndarray:
    if a is None:
        raise ValueError("a required input is missing")
    return a


def _out_shape(g: Graph, op: Op) -> tuple[int, ...]:
    return tuple(int(d) for d in g.tensor(op.outputs[0]).shape)


def _ref(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x = _need(args[0])
    t = op.type
    if t in ("ADD", "SUB"):
        return s16.add_sub(x, _need(args[1]), p, _out_shape(g, op), subtract=t == "SUB")
    if t == "MUL":
        return s16.mul(x, _need(args[1]), p, _out_shape(g, op))
    if t == "SOFTMAX":
        return s16.softmax(x, p)
    if t == "LOGISTIC":
        return s16.logistic(x, p)
    if t == "TANH":
        return s16.tanh(x, p)
    if t == "RELU":
        return s16.relu(x, p)
    if t == "RELU6":
        return s16.relu6(x, p)
    if t == "QUANTIZE":
        if p["mode"] == "float":  # AffineQuantize: float32 division, round half away from zero
            v = (x.astype(np.float32) / np.float32(p["scale"])).astype(np.float32).astype(np.float64)
            r = np.sign(v) * np.floor(np.abs(v) + 0.5)
            return np.clip(r + p["zero_point"], p["out_min"], p["out_max"]).astype(np.int64)
        return s16.requantize(x, p)
    return x.reshape(_out_shape(g, op))  # RESHAPE, SQUEEZE


def _size(g: Graph, op: Op) -> int:
    return int(np.prod(g.tensor(op.inputs[0]).shape))


def _lower_binary(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _add_sub_params(g, op) if op.type in ("ADD", "SUB") else _mul_params(g, op)
    for i in (0, 1):
        if g.tensor(op.inputs[i]).dtype != "int16" or g.tensor(op.outputs[0]).dtype != "int16":
            raise InputError(f"operator {op.index} ({op.type}): int16 {op.type} needs int16 inputs and output")
    oshape = as4d(g.tensor(op.outputs[0]).shape, op)

    def bstrides(i: int) -> list[int]:
        sh = as4d(g.tensor(op.inputs[i]).shape, op)
        st = [int(np.prod(sh[d + 1:])) for d in range(4)]
        return [0 if sh[d] == 1 and oshape[d] != 1 else st[d] for d in range(4)]

    a, b = operand16(ctx, 0, "a"), operand16(ctx, 1, "b")
    f = dict(shape=oshape, a_stride=bstrides(0), b_stride=bstrides(1), op=("ADD", "SUB", "MUL").index(op.type),
             left_shift=p["left_shift"], in1_offset=p["input1_offset"], in2_offset=p["input2_offset"],
             in1_multiplier=p.get("input1_multiplier", 0), in1_shift=p.get("input1_shift", 0),
             in2_multiplier=p.get("input2_multiplier", 0), in2_shift=p.get("input2_shift", 0),
             out_multiplier=p["output_multiplier"], out_shift=p["output_shift"], out_offset=p["output_offset"],
             act_min=p["act_min"], act_max=p["act_max"])
    ps = ctx.add_struct("eml_binary_s16_params_t", fields(f, tuple(f)))
    ctx.layer.call = f"eml_binary_s16(&{ps}, {a}, {b}, {ptr(ctx, op.outputs[0])});"


def _lower_softmax(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _softmax_params(g, op)
    x = g.tensor(op.inputs[0])
    depth = int(x.shape[-1])
    exp_lut, recip_lut = s16_tables.softmax_luts()
    e = ctx.add_array("int16_t", "exp_lut", exp_lut)
    r = ctx.add_array("int16_t", "recip_lut", recip_lut)
    f = dict(outer=_size(g, op) // depth, depth=depth, multiplier=p["input_multiplier"], shift=p["input_left_shift"])
    ps = ctx.add_struct("eml_softmax_s16_params_t", fields(f, tuple(f)))
    ctx.layer.call = f"eml_softmax_s16(&{ps}, {e}, {r}, {ptr(ctx, op.inputs[0], True)}, {ptr(ctx, op.outputs[0])});"


def _lower_sigmoid(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _sigmoid_params(g, op)
    tab = ctx.add_array("uint16_t", "sigmoid", s16_tables.sigmoid_table())
    f = dict(size=_size(g, op), is_tanh=int(op.type == "TANH"), multiplier=p["input_multiplier"],
             shift=p["input_left_shift"])
    ps = ctx.add_struct("eml_sigmoid_s16_params_t", fields(f, tuple(f)))
    ctx.layer.call = f"eml_sigmoid_s16(&{ps}, {tab}, {ptr(ctx, op.inputs[0], True)}, {ptr(ctx, op.outputs[0])});"


def _lower_requant(g: Graph, op: Op, ctx: LowerCtx) -> None:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if op.type == "QUANTIZE":
        p = _quantize_params(g, op)
        if p["mode"] == "float":
            raise InputError(f"operator {op.index} (QUANTIZE): float -> int16 is only supported as the model's "
                             "input (the library's <name>_run quantizes)")
        f = dict(in_zero_point=p["input_zero_point"], out_zero_point=p["output_zero_point"], multiplier=p["multiplier"],
                 shift=p["shift"], act_min=p["out_min"], act_max=p["out_max"])
    else:
        p = _relu_params(g, op)
        f = dict(in_zero_point=p["input_offset"], out_zero_point=p["output_offset"], multiplier=p["output_multiplier"],
                 shift=p["output_shift"], act_min=p["act_min"], act_max=p["act_max"])
    dtype_range(x, op)
    full = dict(size=_size(g, op), in16=int(x.dtype == "int16"), out16=int(y.dtype == "int16"), **f)
    ps = ctx.add_struct("eml_requant_s16_params_t", fields(full, tuple(full)))
    ctx.layer.call = (f"eml_requant_s16(&{ps}, (const void *){ctx.ptr(op.inputs[0])}, "
                      f"(void *){ctx.ptr(op.outputs[0])});")


def _lower_relu6(g: Graph, op: Op, ctx: LowerCtx) -> None:
    p = _relu_params(g, op)
    ctx.layer.call = (f"eml_clamp_s16({ptr(ctx, op.inputs[0], True)}, {ptr(ctx, op.outputs[0])}, {_size(g, op)}, "
                      f"{p['zero']}, {p['six']});")


def _lower_reshape(g: Graph, op: Op, ctx: LowerCtx) -> None:
    x, y = ctx.ptr(op.inputs[0]), ctx.ptr(op.outputs[0])
    if x == y:
        ctx.layer.families = []
        ctx.layer.call = "/* alias: output shares the input's bytes */"
    else:
        ctx.layer.call = f"eml_copy_s16({ptr(ctx, op.inputs[0], True)}, {ptr(ctx, op.outputs[0])}, {_size(g, op)});"


def _no_params(g: Graph, op: Op) -> dict[str, Any]:
    return {}


_DEFS: tuple[tuple[tuple[str, ...], Any, Any], ...] = (
    (("ADD", "SUB"), _add_sub_params, _lower_binary),
    (("MUL",), _mul_params, _lower_binary),
    (("SOFTMAX",), _softmax_params, _lower_softmax),
    (("LOGISTIC", "TANH"), _sigmoid_params, _lower_sigmoid),
    (("QUANTIZE",), _quantize_params, _lower_requant),
    (("RELU",), _relu_params, _lower_requant),
    (("RELU6",), _relu_params, _lower_relu6),
    (("RESHAPE", "SQUEEZE"), _no_params, _lower_reshape),
)
for _types, _params, _lower in _DEFS:
    for _t in _types:
        register(OpDef(_t, "int16", _params, _ref, _lower, c_families=(FAMILY,)))
