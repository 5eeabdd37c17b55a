"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED as TFLite Micro's int8 reference kernels compute them.

int32 accumulation of ``filter * (input + input_offset)`` (+ bias), per-channel requantisation with
``MultiplyByQuantizedMultiplier``, ``output_offset``, clamp to the fused activation range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.quant import multiply_by_quantized_multiplier, wrap_int32


def _as4d(x: np.ndarray) -> np.ndarray:
    return x.reshape((1,) * (4 - x.ndim) + x.shape)


def _requant(acc: np.ndarray, p: dict[str, Any], out_shape: tuple[int, ...]) -> np.ndarray:
    mult = np.asarray(p["output_multiplier"], np.int64)
    shift = np.asarray(p["output_shift"], np.int64)
    y = multiply_by_quantized_multiplier(wrap_int32(acc), mult, shift) + p["output_offset"]
    return np.clip(y, p["act_min"], p["act_max"]).astype(np.int8).reshape(out_shape)


def _patches(x: np.ndarray, p: dict[str, Any], oh: int, ow: int) -> np.ndarray:
    """(N, OH, OW, KH, KW, C) windows of ``x + input_offset``; taps outside the image contribute 0."""
    n, ih, iw, c = x.shape
    xo = x.astype(np.int64) + p["input_offset"]
    iy = np.arange(oh)[:, None] * p["stride_h"] - p["pad_h"] + np.arange(p["filter_h"])[None, :] * p["dilation_h"]
    ix = np.arange(ow)[:, None] * p["stride_w"] - p["pad_w"] + np.arange(p["filter_w"])[None, :] * p["dilation_w"]
    vy = (iy >= 0) & (iy < ih)
    vx = (ix >= 0) & (ix < iw)
    g = xo[:, np.clip(iy, 0, ih - 1)[:, None, :, None], np.clip(ix, 0, iw - 1)[None, :, None, :], :]
    valid = (vy[:, None, :, None] & vx[None, :, None, :])[None, :, :, :, :, None]
    return np.where(valid, g, 0)


def conv_acc(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
             out_shape: tuple[int, ...]) -> np.ndarray:
    """CONV_2D's exact int64 accumulators (input offset from ``p``, bias added), NHWC; int8 and 16x8 share it."""
    x4 = _as4d(x)
    oh, ow = _as4d(np.zeros(out_shape, np.int8)).shape[1:3]
    if w.shape[3] != x4.shape[3]:
        raise ValueError("grouped convolution is not supported")
    acc = np.einsum("nhwijc,oijc->nhwo", _patches(x4, p, oh, ow), w.astype(np.int64))
    return acc + b.astype(np.int64) if b is not None else acc


def depthwise_acc(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
                  out_shape: tuple[int, ...]) -> np.ndarray:
    """DEPTHWISE_CONV_2D's exact int64 accumulators (input offset from ``p``, bias added)."""
    x4 = _as4d(x)
    oh, ow = _as4d(np.zeros(out_shape, np.int8)).shape[1:3]
    patches = np.repeat(_patches(x4, p, oh, ow), p["depth_multiplier"], axis=-1)
    acc = np.einsum("nhwijo,ijo->nhwo", patches, w[0].astype(np.int64))
    return acc + b.astype(np.int64) if b is not None else acc


def fc_acc(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any]) -> np.ndarray:
    """FULLY_CONNECTED's exact int64 accumulators (input and filter offsets from ``p``, bias added)."""
    xs = x.reshape(-1, p["accum_depth"]).astype(np.int64) + p["input_offset"]
    acc = xs @ (w.astype(np.int64) + p["filter_offset"]).T
    return acc + b.astype(np.int64) if b is not None else acc


def conv_2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
            out_shape: tuple[int, ...]) -> np.ndarray:
    return _requant(conv_acc(x, w, b, p, out_shape), p, out_shape)


def depthwise_conv_2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
                      out_shape: tuple[int, ...]) -> np.ndarray:
    return _requant(depthwise_acc(x, w, b, p, out_shape), p, out_shape)


def fully_connected(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: dict[str, Any],
                    out_shape: tuple[int, ...]) -> np.ndarray:
    return _requant(fc_acc(x, w, b, p), p, out_shape)
