"""The int16-activation ops of TFLite's 16x8 mode (int16 activations, int8 weights) as TFLite Micro computes them.

CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED accumulate ``filter * input`` in int64 with an int64 bias (or in
int32 when the model's bias is int32, as TFLM does) and requantize with the int64
``MultiplyByQuantizedMultiplier`` (multiplier rounded to 16 bits, one rounding shift); the int16 convolutions
ignore zero points (they are 0 in 16x8 models). ADD/SUB are the int8 algorithm with ``left_shift`` 15, MUL,
pools and MEAN the int8 ones clamped to int16, SOFTMAX uses TFLM's two interpolated int16 tables
(``s16_tables``), LOGISTIC/TANH interpolate the 256-entry sigmoid table. Outputs are int64 arrays of int16
values (the interpreter casts them to the tensor's dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.compiler.reference import conv, elementwise, pool, s16_tables
from crisp_eml.compiler.reference.conv import _as4d
from crisp_eml.core.quant import multiply_by_quantized_multiplier, wrap_int32

I16_MIN, I16_MAX = -32768, 32767


def mbqm64(x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier(int64_t x, ...)``: the multiplier reduced to 15 bits (rounded), then one
    rounding right shift by ``15 - shift``; the result cast to int32 (wraps)."""
    m = np.asarray(multiplier, np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - np.asarray(shift, np.int64)
    y = (np.asarray(x, np.int64) * reduced + (np.int64(1) << (total - 1))) >> total
    return wrap_int32(y)


def _requant(acc: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
    mult = np.asarray(p["output_multiplier"], np.int64)
    shift = np.asarray(p["output_shift"], np.int64)
    y = mbqm64(acc, mult, shift) if p["acc64"] else multiply_by_quantized_multiplier(wrap_int32(acc), mult, shift)
    return np.clip(y + offset, p["act_min"], p["act_max"]).reshape(out_shape)


def conv_2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
            out_shape: tuple[int, ...]) -> np.ndarray:
    return _requant(conv.conv_acc(x, w, b, {**p, "input_offset": 0}, out_shape), p, out_shape)


def depthwise_conv_2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
                      out_shape: tuple[int, ...]) -> np.ndarray:
    return _requant(conv.depthwise_acc(x, w, b, {**p, "input_offset": 0}, out_shape), p, out_shape)


def fully_connected(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
                    out_shape: tuple[int, ...]) -> np.ndarray:
    return _requant(conv.fc_acc(x, w, b, p), p, out_shape, p["output_offset"])


def max_pool_2d(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    from crisp_eml.compiler.reference.pool import _windows

    oh, ow = _as4d(np.zeros(out_shape, np.int8)).shape[1:3]
    g, valid = _windows(_as4d(x), p, oh, ow)
    out = np.where(valid, g, I16_MIN).max(axis=(3, 4))
    return np.clip(out, p["act_min"], p["act_max"]).reshape(out_shape)


def mean(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    s = wrap_int32(x.astype(np.int64).sum(axis=tuple(p["axes"])) - p["input_zero_point"] * p["num_elements"])
    y = multiply_by_quantized_multiplier(s, p["output_multiplier"], p["output_shift"])
    return np.clip(y + p["output_zero_point"], I16_MIN, I16_MAX).reshape(out_shape)


def mul(a: np.ndarray, b: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    prod = wrap_int32((a.astype(np.int64) + p["input1_offset"]) * (b.astype(np.int64) + p["input2_offset"]))
    y = multiply_by_quantized_multiplier(prod, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return np.broadcast_to(np.clip(y, p["act_min"], p["act_max"]), out_shape).copy()


def softmax(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """``SoftmaxInt16``: exp of the scaled row difference from the exp table, the row sum normalised into the
    1 / (1 + x) table's domain, each exp times the reciprocal with one rounding shift."""
    exp_lut, recip_lut = s16_tables.softmax_luts()
    depth = x.shape[-1]
    rows = x.reshape(-1, depth).astype(np.int64)
    diff = rows - rows.max(axis=1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, p["input_multiplier"], p["input_left_shift"])
    sym = np.clip(scaled + 32767, I16_MIN, I16_MAX)
    exps = s16_tables.lut_lookup(sym, exp_lut)
    sums = wrap_int32(exps.sum(axis=1, keepdims=True))
    clz = np.asarray([32 - int(int(s) & 0xFFFFFFFF).bit_length() for s in sums.reshape(-1)], np.int64).reshape(-1, 1)
    shifted = ((sums << (clz - 1)) + (1 << 13)) >> 14
    sym_sum = np.clip(shifted - ((1 << 15) + (1 << 16)), I16_MIN, I16_MAX)
    recip = s16_tables.lut_lookup(sym_sum, recip_lut)
    right = 31 - clz
    out = (exps * recip + (np.int64(1) << (right - 1))) >> right
    return np.clip(out, 0, I16_MAX).reshape(x.shape)


def _scaled_input(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    m, ls = int(p["input_multiplier"]), int(p["input_left_shift"])
    if m == 0:  # power-of-two scale
        m, ls = 3 << ls, 0
    rnd = (1 << (ls - 1)) if ls > 0 else 0
    return (x.astype(np.int64) * m + rnd) >> ls


def logistic(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    tab = s16_tables.sigmoid_table()
    v = _scaled_input(x, p)
    a = np.abs(v)
    uh = a >> 9
    hi = uh >= 255
    ua = tab[np.minimum(uh, 254)]
    ub = tab[np.minimum(uh, 254) + 1]
    res = np.where(hi, 0x7FFF << 10, (ua << 9) + (a & 0x1FF) * (ub - ua))
    res = np.where(v >= 0, res + (1 << 9), (1 << 25) - res + (1 << 9) - 1) & 0xFFFFFFFF
    return (((res >> 10) + 32768) & 0xFFFF) - 32768


def tanh(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    tab = s16_tables.sigmoid_table()
    v = _scaled_input(x, p)
    a = np.abs(v)
    uh = a >> 8
    hi = uh >= 255
    ua = tab[np.minimum(uh, 254)]
    ub = tab[np.minimum(uh, 254) + 1]
    res = np.where(hi, 0xFFFF << 8, (ua << 8) + (a & 0xFF) * (ub - ua))
    res = wrap_int32(np.where(v >= 0, res - (1 << 23) + (1 << 7), -res + (1 << 23) + (1 << 7) - 1))
    return (((res >> 8) + 32768) & 0xFFFF) - 32768


def requantize(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """``reference_ops::Requantize`` (QUANTIZE between integer types): clamped to the output type's range."""
    y = multiply_by_quantized_multiplier(x.astype(np.int64) - p["input_zero_point"], p["multiplier"], p["shift"])
    return np.clip(y + p["output_zero_point"], p["out_min"], p["out_max"])


def relu(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    y = p["output_offset"] + multiply_by_quantized_multiplier(x.astype(np.int64) - p["input_offset"],
                                                               p["output_multiplier"], p["output_shift"])
    return np.clip(y, p["act_min"], p["act_max"])


def relu6(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return np.clip(x.astype(np.int64), p["zero"], p["six"])


# The same integer arithmetic as int8 (TFLM runs one routine for both); the caller casts to int16.
average_pool_2d = pool.average_pool_2d
add_sub = elementwise.add_sub
