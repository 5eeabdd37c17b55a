"""SOFTMAX, LOGISTIC, TANH, RELU and RELU6 as TFLite Micro's int8 reference kernels compute them.

int8 SOFTMAX in TFLM uses gemmlowp's fixed-point exp/reciprocal path (``reference_ops::Softmax`` with
``kScaledDiffIntegerBits = 5``, ``kAccumulationIntegerBits = 12``), not a lookup table (the LUT path is
for int16). LOGISTIC and TANH use gemmlowp ``logistic``/``tanh`` on a Q4.27 input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.compiler.reference import fixedpoint as fp
from crisp_eml.core.quant import (
    count_leading_zeros_u32,
    multiply_by_quantized_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
    wrap_int32,
)


def softmax(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    depth = x.shape[-1]
    rows = x.reshape(-1, depth).astype(np.int64)
    diff = rows - rows.max(axis=1, keepdims=True)
    ok = diff >= p["diff_min"]
    rescaled = saturating_rounding_doubling_high_mul(wrap_int32(diff * (1 << p["input_left_shift"])),
                                                     p["input_multiplier"])
    exps = fp.exp_on_negative_values(rescaled, 5)
    contrib = np.where(ok, saturating_rounding_multiply_by_pot(exps, -12), 0)
    sum_of_exps = wrap_int32(contrib.sum(axis=1, keepdims=True))
    headroom_plus_one = count_leading_zeros_u32(sum_of_exps)
    num_bits_over_unit = 12 - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((sum_of_exps & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    shifted_scale = fp.one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    unsat = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted_scale, exps),
                                   num_bits_over_unit + 31 - 8)
    out = np.where(ok, np.clip(unsat - 128, -128, 127), -128)
    return out.astype(np.int8).reshape(x.shape)


def softmax_exp_table(p: dict[str, Any]) -> np.ndarray:
    """The int8 softmax's exp(diff) in Q0.31 for diff = 0, -1, ..., -255 (index -diff); 0 below ``diff_min``.

    In TFLM's int8 softmax every exp depends only on diff = x - max(row), an integer in [-255, 0], so the
    generated C looks these 256 values up instead of evaluating gemmlowp's exp per element (same integers).
    """
    diff = -np.arange(256, dtype=np.int64)
    rescaled = saturating_rounding_doubling_high_mul(wrap_int32(diff * (1 << p["input_left_shift"])),
                                                     p["input_multiplier"])
    exps = fp.exp_on_negative_values(rescaled, 5)
    return np.where(diff >= p["diff_min"], exps, 0).astype(np.int32)


def _fixed_q4(x: np.ndarray, p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inp = x.astype(np.int64) - p["input_zero_point"]
    r = p["input_range_radius"]
    q4 = multiply_by_quantized_multiplier(inp, p["input_multiplier"], p["input_left_shift"])
    return q4, inp <= -r, inp >= r


def logistic(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    q4, low, high = _fixed_q4(x, p)
    q0 = fp.logistic(q4, 4)
    v = np.clip(rounding_divide_by_pot(q0, 31 - 8) - 128, -128, 127)
    return np.where(low, -128, np.where(high, 127, v)).astype(np.int8)


def tanh(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    q4, low, high = _fixed_q4(x, p)
    q0 = fp.tanh(q4, 4)
    v = np.clip(rounding_divide_by_pot(q0, 31 - 7), -128, 127)
    return np.where(low, -128, np.where(high, 127, v)).astype(np.int8)


def relu(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    y = p["output_offset"] + multiply_by_quantized_multiplier(x.astype(np.int64) - p["input_offset"],
                                                               p["output_multiplier"], p["output_shift"])
    return np.clip(y, p["act_min"], p["act_max"]).astype(np.int8)


def relu6(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return np.clip(x.astype(np.int64), p["zero"], p["six"]).astype(np.int8)
