"""Data-movement ops: RESHAPE, SQUEEZE, PAD, CONCATENATION, STRIDED_SLICE, TRANSPOSE, QUANTIZE, DEQUANTIZE."""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.quant import multiply_by_quantized_multiplier


def pad(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    widths = [tuple(w) for w in p["paddings"]]
    return np.pad(x, widths, constant_values=p["pad_value"]).astype(x.dtype).reshape(out_shape)


def concatenation(xs: list[np.ndarray], p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(xs, axis=p["axis"]).reshape(out_shape)


def strided_slice(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    idx = tuple(slice(a, None if (b < 0 and s < 0) else b, s) for a, b, s in zip(p["start"], p["stop"], p["step"],
                                                                                  strict=True))
    return np.ascontiguousarray(x[idx]).reshape(out_shape)


def transpose(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, p["perm"])).reshape(out_shape)


def quantize(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    if p["mode"] == "float_to_int8":
        v = (x.astype(np.float32) / np.float32(p["scale"])).astype(np.float32).astype(np.float64)
        r = np.sign(v) * np.floor(np.abs(v) + 0.5)
        return np.clip(r + p["zero_point"], -128, 127).astype(np.int8)
    y = multiply_by_quantized_multiplier(x.astype(np.int64) - p["input_zero_point"], p["multiplier"],
                                         p["shift"]) + p["output_zero_point"]
    return np.clip(y, -128, 127).astype(np.int8)


def dequantize(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return (np.float64(p["scale"]) * (x.astype(np.int64) - p["zero_point"])).astype(np.float32)
