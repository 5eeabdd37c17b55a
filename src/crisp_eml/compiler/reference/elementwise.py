"""ADD, SUB and MUL (with numpy broadcasting) as TFLite Micro's int8 reference kernels compute them."""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.quant import multiply_by_quantized_multiplier, wrap_int32


def add_sub(a: np.ndarray, b: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...], subtract: bool) -> np.ndarray:
    a1 = wrap_int32((a.astype(np.int64) + p["input1_offset"]) * (1 << p["left_shift"]))
    b1 = wrap_int32((b.astype(np.int64) + p["input2_offset"]) * (1 << p["left_shift"]))
    sa = multiply_by_quantized_multiplier(a1, p["input1_multiplier"], p["input1_shift"])
    sb = multiply_by_quantized_multiplier(b1, p["input2_multiplier"], p["input2_shift"])
    raw = wrap_int32(sa - sb if subtract else sa + sb)
    y = multiply_by_quantized_multiplier(raw, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    # clipped to the activation range; the caller casts to the output's type (int8, or int16 in the 16x8 mode)
    return np.broadcast_to(np.clip(y, p["act_min"], p["act_max"]), out_shape).copy()


def mul(a: np.ndarray, b: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    prod = wrap_int32((a.astype(np.int64) + p["input1_offset"]) * (b.astype(np.int64) + p["input2_offset"]))
    y = multiply_by_quantized_multiplier(prod, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return np.broadcast_to(np.clip(y, p["act_min"], p["act_max"]).astype(np.int8), out_shape).copy()
