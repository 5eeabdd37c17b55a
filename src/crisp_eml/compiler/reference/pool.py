"""AVERAGE_POOL_2D, MAX_POOL_2D and MEAN as TFLite Micro's int8 reference kernels compute them."""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.quant import multiply_by_quantized_multiplier, wrap_int32


def _windows(x: np.ndarray, p: dict[str, Any], oh: int, ow: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, OH, OW, FH, FW, C) windows and the matching validity mask (taps inside the image)."""
    _, ih, iw, _ = x.shape
    iy = np.arange(oh)[:, None] * p["stride_h"] - p["pad_h"] + np.arange(p["filter_h"])[None, :]
    ix = np.arange(ow)[:, None] * p["stride_w"] - p["pad_w"] + np.arange(p["filter_w"])[None, :]
    vy = (iy >= 0) & (iy < ih)
    vx = (ix >= 0) & (ix < iw)
    g = x.astype(np.int64)[:, np.clip(iy, 0, ih - 1)[:, None, :, None], np.clip(ix, 0, iw - 1)[None, :, None, :], :]
    valid = (vy[:, None, :, None] & vx[None, :, None, :])[None, :, :, :, :, None]
    return g, np.broadcast_to(valid, g.shape)


def _as4d(x: np.ndarray) -> np.ndarray:
    return x.reshape((1,) * (4 - x.ndim) + x.shape)


def average_pool_2d(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    oh, ow = _as4d(np.zeros(out_shape, np.int8)).shape[1:3]
    g, valid = _windows(_as4d(x), p, oh, ow)
    acc = wrap_int32(np.where(valid, g, 0).sum(axis=(3, 4)))  # TFLM's int32 sum (int16 windows may wrap)
    count = valid.sum(axis=(3, 4)).astype(np.int64)
    if (count == 0).any():
        raise ValueError("average pool window without any input")
    num = np.where(acc > 0, acc + count // 2, acc - count // 2)
    q = np.abs(num) // count  # C division truncates toward zero
    out = np.where(num < 0, -q, q)
    # clipped to the activation range; the caller casts to the output's type (int8, or int16 in the 16x8 mode)
    return np.clip(out, p["act_min"], p["act_max"]).reshape(out_shape)


def max_pool_2d(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    oh, ow = _as4d(np.zeros(out_shape, np.int8)).shape[1:3]
    g, valid = _windows(_as4d(x), p, oh, ow)
    out = np.where(valid, g, -(1 << 31)).max(axis=(3, 4))
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8).reshape(out_shape)


def mean(x: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    s = x.astype(np.int64).sum(axis=tuple(p["axes"])) - p["input_zero_point"] * p["num_elements"]
    y = multiply_by_quantized_multiplier(wrap_int32(s), p["output_multiplier"], p["output_shift"])
    return np.clip(y + p["output_zero_point"], -128, 127).astype(np.int8).reshape(out_shape)
