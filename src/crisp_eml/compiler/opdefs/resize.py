"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (int8): image upsampling as TFLite Micro computes it.

Both ops only move (nearest) or blend (bilinear) input codes: TFLM applies no requantization, the output
takes the input's codes. Everything that depends on the geometry is computed here once, exactly as TFLM's
reference kernels compute it per element, and handed to the numpy reference and the C kernel as tables:
- nearest: ``GetNearestNeighbor`` in float32 (``(x + offset) * scale``, floored or ``std::round``ed), one
  source row per output row and one source column per output column;
- bilinear: ``ResizeBilinearInteger`` (TFLM's int8 path, no float): scales in 1/1024 units rounded to
  nearest, per output row ``(y0, y1, dy)`` where ``dy = input_y - 1024 * y0`` (negative at the top border
  with half-pixel centers), the same per column, then per element the int64 sum of the four 20-bit
  weighted taps rounded half away from zero (TFLM's default double-rounding build).
C: ``eml_ops_resize.c``. Never in place (an output row may read an input row after it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.compiler.opdefs import OpDef, register
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op
from crisp_eml.core.quant import tflite_round

if TYPE_CHECKING:  # typing only (c.lower imports the registry)
    from crisp_eml.compiler.c.lower import LowerCtx


def _geometry(g: Graph, op: Op) -> dict[str, Any]:
    """Shapes, flags and the constant size tensor, checked as TFLM's Prepare checks them."""
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if len(op.inputs) != 2 or len(x.shape) != 4 or len(y.shape) != 4:
        raise InputError(f"operator {op.index} ({op.type}): needs a 4-D input, a size tensor and a 4-D output")
    size = g.tensor(op.inputs[1])
    if size.data is None or size.dtype != "int32" or size.data.size != 2:
        raise InputError(f"operator {op.index} ({op.type}): the size tensor must be a constant int32 [2]")
    oh, ow = (int(v) for v in np.asarray(size.data).reshape(-1))
    n, ih, iw, c = (int(d) for d in x.shape)
    if tuple(int(d) for d in y.shape) != (n, oh, ow, c) or min(n, ih, iw, c, oh, ow) < 1:
        raise InputError(f"operator {op.index} ({op.type}): output shape {y.shape} does not match the input "
                         f"{x.shape} resized to {oh}x{ow}")
    align, half = bool(op.options.get("align_corners", False)), bool(op.options.get("half_pixel_centers", False))
    if align and half:
        raise InputError(f"operator {op.index} ({op.type}): align_corners and half_pixel_centers are exclusive")
    return {"batches": n, "in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow,
            "align_corners": align, "half_pixel_centers": half}


def nearest_index(out_size: int, in_size: int, align: bool, half: bool) -> list[int]:
    """``GetNearestNeighbor`` for every output coordinate (float32 arithmetic, as the C++ does)."""
    f32 = np.float32
    num, den = (in_size - 1, out_size - 1) if align and out_size > 1 else (in_size, out_size)
    scale = f32(f32(num) / f32(den))
    offset = f32(0.5 if half else 0.0)
    out = []
    for v in range(out_size):
        val = float(f32(f32(f32(v) + offset) * scale))
        idx = min(tflite_round(val) if align else math.floor(val), in_size - 1)
        out.append(max(0, idx) if half else idx)
    return out


def _tdiv(a: int, b: int) -> int:
    """C integer division (truncation toward zero) for b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def bilinear_table(out_size: int, in_size: int, align: bool, half: bool) -> list[int]:
    """Per output coordinate ``(lower, upper, d)`` of ``ComputeInterpolationValuesInteger``, flattened."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    out: list[int] = []
    for v in range(out_size):
        scaled = v * scale + scale // 2 - (1 << 9) if half else v * scale
        lo = max(_tdiv(scaled, 1 << 10), 0)
        hi = min(_tdiv(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
        out += [lo, hi, scaled - (1 << 10) * lo]
    return out


def _nearest_params(g: Graph, op: Op) -> dict[str, Any]:
    p = _geometry(g, op)
    p["y_index"] = nearest_index(p["out_h"], p["in_h"], p["align_corners"], p["half_pixel_centers"])
    p["x_index"] = nearest_index(p["out_w"], p["in_w"], p["align_corners"], p["half_pixel_centers"])
    return p


def _bilinear_params(g: Graph, op: Op) -> dict[str, Any]:
    p = _geometry(g, op)
    p["y_table"] = bilinear_table(p["out_h"], p["in_h"], p["align_corners"], p["half_pixel_centers"])
    p["x_table"] = bilinear_table(p["out_w"], p["in_w"], p["align_corners"], p["half_pixel_centers"])
    for key, size in (("y_table", p["in_h"]), ("x_table", p["in_w"])):
        t = np.asarray(p[key]).reshape(-1, 3)
        if t[:, :2].min() < 0 or t[:, :2].max() >= size:
            raise InputError(f"operator {op.index} (RESIZE_BILINEAR): a source index falls outside the input")
    # the C kernel sums the four taps in int32: 128 * (|1024 - dy| + |dy|) * (|1024 - dx| + |dx|) must fit
    span = [int(np.max(np.abs(1024 - d) + np.abs(d))) for d in (np.asarray(p[k])[2::3] for k in ("y_table",
                                                                                           "x_table"))]
    if 128 * span[0] * span[1] >= 1 << 31:
        raise InputError(f"operator {op.index} (RESIZE_BILINEAR): interpolation weights out of range")
    return p


def _nearest_reference(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x = args[0]
    assert x is not None
    return x[:, np.asarray(p["y_index"])][:, :, np.asarray(p["x_index"])]


def _bilinear_reference(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    x = args[0]
    assert x is not None
    xi = x.astype(np.int64)
    ty, tx = np.asarray(p["y_table"], np.int64).reshape(-1, 3), np.asarray(p["x_table"], np.int64).reshape(-1, 3)
    y0, y1, dy = ty[:, 0], ty[:, 1], ty[:, 2][None, :, None, None]
    x0, x1, dx = tx[:, 0], tx[:, 1], tx[:, 2][None, None, :, None]
    one = 1 << 10
    acc = (xi[:, y0][:, :, x0] * (one - dy) * (one - dx) + xi[:, y1][:, :, x0] * dy * (one - dx)
           + xi[:, y0][:, :, x1] * (one - dy) * dx + xi[:, y1][:, :, x1] * dy * dx)
    v = acc + np.where(acc > 0, 1 << 19, -(1 << 19))
    q = np.abs(v) >> 20
    return np.where(v < 0, -q, q).astype(np.int8)


def _dims(p: dict[str, Any]) -> dict[str, int | list[int]]:
    return {k: int(p[k]) for k in ("batches", "in_h", "in_w", "channels", "out_h", "out_w")}


def _lower_nearest(g: Graph, op: Op, ctx: LowerCtx) -> None:
    from crisp_eml.compiler.params import op_params

    p = op_params(g, op)
    ys = ctx.add_array("int32_t", "ys", np.asarray(p["y_index"], np.int64))
    xs = ctx.add_array("int32_t", "xs", np.asarray(p["x_index"], np.int64))
    ps = ctx.add_struct("eml_resize_params_t", _dims(p))
    ctx.layer.call = f"eml_resize_nearest_s8(&{ps}, {ys}, {xs}, {ctx.ptr(op.inputs[0])}, {ctx.ptr(op.outputs[0])});"


def _lower_bilinear(g: Graph, op: Op, ctx: LowerCtx) -> None:
    from crisp_eml.compiler.params import op_params

    p = op_params(g, op)
    ys = ctx.add_array("int32_t", "ytab", np.asarray(p["y_table"], np.int64))
    xs = ctx.add_array("int32_t", "xtab", np.asarray(p["x_table"], np.int64))
    ps = ctx.add_struct("eml_resize_params_t", _dims(p))
    ctx.layer.call = f"eml_resize_bilinear_s8(&{ps}, {ys}, {xs}, {ctx.ptr(op.inputs[0])}, {ctx.ptr(op.outputs[0])});"


register(OpDef("RESIZE_NEAREST_NEIGHBOR", "int8", _nearest_params, _nearest_reference, _lower_nearest,
               c_families=("eml_ops_resize",)))
register(OpDef("RESIZE_BILINEAR", "int8", _bilinear_params, _bilinear_reference, _lower_bilinear,
               c_families=("eml_ops_resize",)))
