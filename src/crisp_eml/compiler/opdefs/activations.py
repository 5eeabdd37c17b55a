"""int8 HARD_SWISH, LEAKY_RELU and PRELU, bit-exact with TFLite Micro's int8 reference kernels.

Constants follow the kernels' ``Prepare``: HARD_SWISH's two int16 fixed-point multipliers
(``DownScaleInt32ToInt16Multiplier`` of ``QuantizeMultiplier``, scales combined in float32), LEAKY_RELU's
identity and alpha multipliers (float32 scale arithmetic), PRELU's two multipliers (double arithmetic, one
alpha scale). HARD_SWISH and LEAKY_RELU are functions of one int8 code, so the C looks the reference's 256
outputs up (``eml_lut_s8``: exact by construction, one load per element); PRELU reads a broadcast alpha per
element and runs ``eml_prelu_s8`` (``c/eml_ops_act.c``). All three write element k after reading element k's
inputs, in increasing order, so they may run in place (group 1, identity read order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.compiler.opdefs import LowerFn, OpDef, ParamsFn, ReferenceFn, register
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor
from crisp_eml.core.quant import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
)

if TYPE_CHECKING:
    from crisp_eml.compiler.c.lower import LowerCtx

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def _scale(t: Tensor) -> float:
    return float(t.scale[0]) if len(t.scale) else 0.0


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if len(t.zero_point) else 0


def _io(g: Graph, op: Op) -> tuple[Tensor, Tensor]:
    return g.tensor(op.inputs[0]), g.tensor(op.outputs[0])


def _identity_reads(g: Graph, op: Op) -> np.ndarray | None:
    x, y = _io(g, op)
    if tuple(x.shape) != tuple(y.shape):
        return None
    return np.arange(int(np.prod(y.shape, dtype=np.int64)), dtype=np.int64)


def _lut_lower(params: ParamsFn, reference: ReferenceFn) -> LowerFn:
    """Lowering of an int8 -> int8 function of one code: the reference's 256 outputs, looked up in C."""
    def lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
        x, _ = _io(g, op)
        if x.data is not None:
            raise InputError(f"operator {op.index} ({op.type}): a constant input is not supported")
        codes = np.arange(-128, 128, dtype=np.int64)
        lut = ctx.add_array("int8_t", "lut", np.asarray(reference(g, op, [codes], params(g, op)), np.int64))
        ctx.layer.call = f"eml_lut_s8({lut}, {ctx.ptr(op.inputs[0])}, {ctx.ptr(op.outputs[0])}, " \
                         f"{int(np.prod(x.shape, dtype=np.int64))});"
    return lower


# ---------------------------------------------------------------- HARD_SWISH

def _downscale_to_int16(m: int) -> int:
    """``DownScaleInt32ToInt16Multiplier``."""
    if m >= (1 << 31) - 1 - (1 << 15):
        return INT16_MAX
    return (m + (1 << 15)) >> 16


def hard_swish_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = _io(g, op)
    # the installed TFLM runtime divides in double (tests/golden/test_multiplier_precision.py); hires is exact
    hires = float(np.float32(np.float32(1.0 / 128.0) * np.float32(_scale(x))))
    out_real = hires / float(np.float32(_scale(y)))
    rel_real = hires / (3.0 / 32768.0)
    om, oe = quantize_multiplier(out_real)
    rm, re_ = quantize_multiplier(rel_real)
    if oe > 0:  # TFLM's Prepare refuses this too
        raise InputError(f"operator {op.index} (HARD_SWISH): output scale {_scale(y):g} is too small for the input "
                         f"scale {_scale(x):g} (output multiplier exponent {oe} > 0)")
    if -oe > 15 or -re_ > 15:
        raise InputError(f"operator {op.index} (HARD_SWISH): scales out of the int16 fixed-point range (input "
                         f"{_scale(x):g}, output {_scale(y):g})")
    return {"input_zero_point": _zp(x), "output_zero_point": _zp(y), "output_multiplier": _downscale_to_int16(om),
            "output_exponent": oe, "reluish_multiplier": _downscale_to_int16(rm), "reluish_exponent": re_}


def _trunc_div(a: np.ndarray, d: int) -> np.ndarray:
    q = np.abs(a) // d
    return np.where(a < 0, -q, q)


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int16."""
    a = np.asarray(a, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    res = _trunc_div(ab + nudge, 1 << 15)
    return np.where((a == b) & (a == INT16_MIN), INT16_MAX, res)


def _sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TFLM's ``SaturatingDoublingHighMul`` on int16 (rounds toward zero)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    res = _trunc_div(a * b, 1 << 15)
    return np.where((a == b) & (a == INT16_MIN), INT16_MAX, res)


def _sat_shl16(a: np.ndarray, n: int) -> np.ndarray:
    return np.clip(np.asarray(a, np.int64) * (1 << n), INT16_MIN, INT16_MAX)


def hard_swish(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x = args[0]
    assert x is not None
    hires = (np.asarray(x, np.int64) - p["input_zero_point"]) * (1 << 7)
    pre_out = _srdhm16(hires, p["output_multiplier"])
    rel = hires
    e = int(p["reluish_exponent"])
    if e > 0:
        rel = _sat_shl16(rel, e - 1)
    rel = _srdhm16(rel, p["reluish_multiplier"])
    if e > 0:
        rel = _sat_shl16(rel, 1)
    if e < 0:
        rel = rounding_divide_by_pot(rel, -e)
    rel = (rel + (1 << 15)) >> 1
    out = rounding_divide_by_pot(_sdhm16(rel, pre_out), -int(p["output_exponent"])) + p["output_zero_point"]
    return np.clip(out, -128, 127).astype(np.int8)


# ---------------------------------------------------------------- LEAKY_RELU

def leaky_relu_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = _io(g, op)
    alpha = np.float32(op.options.get("alpha", 0.2))
    sx, sy = np.float32(_scale(x)), np.float32(_scale(y))
    # products and divisions in double, as the installed TFLM runtime does (tests/golden/test_multiplier_precision.py)
    ma, sa = quantize_multiplier(float(sx) * float(alpha) / float(sy))
    mi, si = quantize_multiplier(float(sx) / float(sy))
    return {"input_offset": _zp(x), "output_offset": _zp(y), "multiplier_alpha": ma, "shift_alpha": sa,
            "multiplier_identity": mi, "shift_identity": si}


def leaky_relu(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x = args[0]
    assert x is not None
    v = np.asarray(x, np.int64) - p["input_offset"]
    pos = multiply_by_quantized_multiplier(v, p["multiplier_identity"], p["shift_identity"])
    neg = multiply_by_quantized_multiplier(v, p["multiplier_alpha"], p["shift_alpha"])
    return np.clip(p["output_offset"] + np.where(v >= 0, pos, neg), -128, 127).astype(np.int8)


# ---------------------------------------------------------------- PRELU

def prelu_params(g: Graph, op: Op) -> dict[str, Any]:
    x, y = _io(g, op)
    a = g.tensor(op.inputs[1])
    if len(a.scale) != 1:
        raise InputError(f"operator {op.index} (PRELU): alpha must have one (per-tensor) scale, has {len(a.scale)}")
    m1, s1 = quantize_multiplier(float(np.float64(_scale(x)) / np.float64(_scale(y))))
    m2, s2 = quantize_multiplier(float(np.float64(_scale(x)) * np.float64(_scale(a)) / np.float64(_scale(y))))
    return {"input_offset": -_zp(x), "alpha_offset": -_zp(a), "output_offset": _zp(y), "multiplier_1": m1,
            "shift_1": s1, "multiplier_2": m2, "shift_2": s2}


def prelu(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x, a = args[0], args[1]
    assert x is not None and a is not None
    shape = tuple(g.tensor(op.outputs[0]).shape)
    v = np.broadcast_to(np.asarray(x, np.int64), shape) + p["input_offset"]
    al = np.broadcast_to(np.asarray(a, np.int64), shape) + p["alpha_offset"]
    pos = multiply_by_quantized_multiplier(v, p["multiplier_1"], p["shift_1"])
    neg = multiply_by_quantized_multiplier(v * al, p["multiplier_2"], p["shift_2"])
    return np.clip(np.where(v >= 0, pos, neg) + p["output_offset"], -128, 127).astype(np.int8)


def _as4d(shape: tuple[int, ...], op: Op) -> list[int]:
    if len(shape) > 4:
        raise InputError(f"operator {op.index} ({op.type}): tensors of rank {len(shape)} > 4 are not supported")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def broadcast_strides(shape: tuple[int, ...], out4: list[int], op: Op) -> list[int]:
    """4-D element strides of a tensor of ``shape`` read broadcast to ``out4`` (0 along broadcast dims)."""
    s = _as4d(shape, op)
    st = [1, 1, 1, 1]
    for d in range(2, -1, -1):
        st[d] = st[d + 1] * s[d + 1]
    return [0 if s[d] == 1 and out4[d] != 1 else st[d] for d in range(4)]


def prelu_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    x, y = _io(g, op)
    if x.data is not None:
        raise InputError(f"operator {op.index} (PRELU): a constant input is not supported")
    p = prelu_params(g, op)
    out4 = _as4d(tuple(y.shape), op)
    alpha = ctx.operand(1, "alpha")
    ps = ctx.add_struct("eml_prelu_params_t", {
        "shape": out4, "x_stride": broadcast_strides(tuple(x.shape), out4, op),
        "a_stride": broadcast_strides(tuple(g.tensor(op.inputs[1]).shape), out4, op),
        "in_offset": p["input_offset"], "alpha_offset": p["alpha_offset"], "out_offset": p["output_offset"],
        "mult1": p["multiplier_1"], "shift1": p["shift_1"], "mult2": p["multiplier_2"], "shift2": p["shift_2"]})
    ctx.layer.call = f"eml_prelu_s8(&{ps}, {ctx.ptr(op.inputs[0])}, {alpha}, {ctx.ptr(op.outputs[0])});"


register(OpDef("HARD_SWISH", "int8", hard_swish_params, hard_swish, _lut_lower(hard_swish_params, hard_swish),
               sections=("lut",), group=1, read_min=_identity_reads))
register(OpDef("LEAKY_RELU", "int8", leaky_relu_params, leaky_relu, _lut_lower(leaky_relu_params, leaky_relu),
               sections=("lut",), group=1, read_min=_identity_reads))
register(OpDef("PRELU", "int8", prelu_params, prelu, prelu_lower, c_families=("eml_ops_act",),
               group=1, read_min=_identity_reads))
