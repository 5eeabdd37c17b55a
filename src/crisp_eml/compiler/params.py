"""Every integer (and the few float) constants each int8 kernel needs, computed once per op.

``op_params(graph, op)`` is the single source of these numbers: the reference interpreter runs on them
and the C renderer prints them, so the generated C and the reference can never disagree on a multiplier,
a shift or a clamp. Values follow TFLite Micro's ``Prepare`` functions (see docs/compiler-internals.md).
Lists are per-output-channel where TFLM keeps arrays; everything is plain Python ``int``/``float``/``list``
so the dict is JSON-serialisable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor
from crisp_eml.core.quant import (
    activation_range,
    calculate_input_radius,
    quantize_multiplier,
    quantize_value,
    tflite_round,
)


def _scale(t: Tensor) -> float:
    return float(t.scale[0]) if len(t.scale) else 0.0


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if len(t.zero_point) else 0


def _act(op: Op, out: Tensor) -> tuple[int, int]:
    act = str(op.options.get("fused_activation_function", "NONE"))
    try:
        return activation_range(act, _scale(out), _zp(out))
    except ValueError as exc:
        raise InputError(f"operator {op.index} ({op.type}): {exc}") from None


def _pad(padding: str, stride: int, dilation: int, in_size: int, filt: int, out_size: int) -> int:
    """``ComputePaddingWithOffset``: leading padding (top/left)."""
    if padding != "SAME":
        return 0
    eff = (filt - 1) * dilation + 1
    total = max((out_size - 1) * stride + eff - in_size, 0)
    return total // 2


def _nhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return s[0], s[1], s[2], s[3]


def _conv(g: Graph, op: Op) -> dict[str, Any]:
    x, w, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    o = op.options
    _, ih, iw, _ = _nhwc(x.shape)
    _, oh, ow, oc = _nhwc(y.shape)
    if len(w.shape) != 4:
        raise InputError(f"operator {op.index} ({op.type}): filter must be 4-D, got shape {w.shape}")
    kh, kw = w.shape[1], w.shape[2]
    if op.type == "CONV_2D" and w.shape[3] != _nhwc(x.shape)[3]:
        raise InputError(f"operator {op.index} (CONV_2D): grouped convolutions are not supported")
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_hfactor", 1)), int(o.get("dilation_wfactor", 1))
    pad = str(o.get("padding", "VALID"))
    in_scale, out_scale = np.float32(_scale(x)), np.float32(_scale(y))
    mult, shift = [], []
    for c in range(oc):
        fs = np.float32(w.scale[c] if len(w.scale) > 1 else w.scale[0])
        m, s = quantize_multiplier(float(in_scale) * float(fs) / float(out_scale))
        mult.append(m)
        shift.append(s)
    act_min, act_max = _act(op, y)
    p: dict[str, Any] = {
        "input_offset": -_zp(x), "output_offset": _zp(y), "output_multiplier": mult, "output_shift": shift,
        "act_min": act_min, "act_max": act_max, "stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw,
        "pad_h": _pad(pad, sh, dh, ih, kh, oh), "pad_w": _pad(pad, sw, dw, iw, kw, ow),
        "filter_h": kh, "filter_w": kw,
    }
    if op.type == "DEPTHWISE_CONV_2D":
        p["depth_multiplier"] = oc // max(1, _nhwc(x.shape)[3])
    return p


def _fc(g: Graph, op: Op) -> dict[str, Any]:
    x, w, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    per_channel = len(w.scale) > 1
    mult, shift = [], []
    for c in range(len(w.scale) if per_channel else 1):
        # float scales, product and division in double, per channel or per tensor: what the installed TFLite
        # Micro runtime computes (a float32 product moves bytes: tests/golden/test_multiplier_precision.py)
        real = float(np.float32(_scale(x))) * float(np.float32(w.scale[c])) / float(np.float32(_scale(y)))
        m, s = quantize_multiplier(real)
        mult.append(m)
        shift.append(s)
    act_min, act_max = _act(op, y)
    return {"input_offset": -_zp(x), "filter_offset": -int(w.zero_point[0]) if len(w.zero_point) else 0,
            "output_offset": _zp(y), "output_multiplier": mult, "output_shift": shift, "per_channel": per_channel,
            "act_min": act_min, "act_max": act_max, "accum_depth": int(w.shape[-1]), "output_depth": int(w.shape[0])}


def _pool(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    o = op.options
    _, ih, iw, _ = _nhwc(x.shape)
    _, oh, ow, _ = _nhwc(y.shape)
    fh, fw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    pad = str(o.get("padding", "VALID"))
    act_min, act_max = _act(op, y)
    return {"filter_h": fh, "filter_w": fw, "stride_h": sh, "stride_w": sw, "pad_h": _pad(pad, sh, 1, ih, fh, oh),
            "pad_w": _pad(pad, sw, 1, iw, fw, ow), "act_min": act_min, "act_max": act_max}


def _mean(g: Graph, op: Op) -> dict[str, Any]:
    x, ax, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    if ax.data is None:
        raise InputError(f"operator {op.index} (MEAN): the axis tensor must be constant")
    rank = len(x.shape)
    axes = sorted({int(a) % rank for a in np.asarray(ax.data).reshape(-1)})
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    # TFLM QuantizedMeanOrSum: fold 1/count into the input/output rescale multiplier.
    mult, shift = quantize_multiplier(_scale(x) / _scale(y))
    extra = min(63 - (64 - count.bit_length()) if count > 0 else 0, 32, 31 + shift)
    mult = (((mult << extra) if extra >= 0 else (mult >> -extra)) // count) if count else 0
    return {"axes": axes, "keep_dims": bool(op.options.get("keep_dims", False)), "num_elements": count,
            "input_zero_point": _zp(x), "output_zero_point": _zp(y), "output_multiplier": mult,
            "output_shift": shift - extra}


def _add_sub(g: Graph, op: Op) -> dict[str, Any]:
    a, b, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(_scale(a)), np.float32(_scale(b))))
    m1, s1 = quantize_multiplier(_scale(a) / twice_max)
    m2, s2 = quantize_multiplier(_scale(b) / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left_shift) * _scale(y)))
    act_min, act_max = _act(op, y)
    return {"left_shift": left_shift, "input1_offset": -_zp(a), "input2_offset": -_zp(b), "output_offset": _zp(y),
            "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2, "input2_shift": s2,
            "output_multiplier": mo, "output_shift": so, "act_min": act_min, "act_max": act_max}


def _mul(g: Graph, op: Op) -> dict[str, Any]:
    a, b, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    m, s = quantize_multiplier(_scale(a) * _scale(b) / _scale(y))
    act_min, act_max = _act(op, y)
    return {"input1_offset": -_zp(a), "input2_offset": -_zp(b), "output_offset": _zp(y), "output_multiplier": m,
            "output_shift": s, "act_min": act_min, "act_max": act_max}


def _softmax(g: Graph, op: Op) -> dict[str, Any]:
    x = g.tensor(op.inputs[0])
    beta = float(op.options.get("beta", 1.0))
    integer_bits = 5
    real = min(beta * _scale(x) * (1 << (31 - integer_bits)), float((1 << 31) - 1))
    m, s = quantize_multiplier(real)
    if s < 0:
        raise InputError(f"operator {op.index} (SOFTMAX): input scale too small for the int8 softmax")
    diff_min = -calculate_input_radius(integer_bits, s)
    return {"input_multiplier": m, "input_left_shift": s, "diff_min": diff_min}


def _sigmoid_tanh(g: Graph, op: Op) -> dict[str, Any]:
    x = g.tensor(op.inputs[0])
    integer_bits = 4
    real = _scale(x) * float(1 << (31 - integer_bits))
    q, shift = math.frexp(real)
    mult = tflite_round(q * (1 << 31))
    return {"input_zero_point": _zp(x), "input_multiplier": mult, "input_left_shift": shift,
            "input_range_radius": calculate_input_radius(integer_bits, shift, 31)}


def _relu(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if op.type == "RELU6":
        six = max(-128, min(127, quantize_value(6.0, _scale(x), _zp(x))))
        return {"zero": _zp(x), "six": six}
    m, s = quantize_multiplier(_scale(x) / _scale(y))
    return {"input_offset": _zp(x), "output_offset": _zp(y), "output_multiplier": m, "output_shift": s,
            "act_min": max(-128, _zp(y)), "act_max": 127}


def _quantize(g: Graph, op: Op) -> dict[str, Any]:
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if x.dtype == "float32":
        return {"mode": "float_to_int8", "scale": float(np.float32(_scale(y))), "zero_point": _zp(y)}
    m, s = quantize_multiplier(_scale(x) / _scale(y))
    return {"mode": "requantize", "input_zero_point": _zp(x), "output_zero_point": _zp(y), "multiplier": m,
            "shift": s}


def _dequantize(g: Graph, op: Op) -> dict[str, Any]:
    x = g.tensor(op.inputs[0])
    return {"scale": float(np.float32(_scale(x))), "zero_point": _zp(x)}


def _const(g: Graph, op: Op, k: int, what: str) -> list[int]:
    if len(op.inputs) <= k or op.inputs[k] < 0 or g.tensor(op.inputs[k]).data is None:
        raise InputError(f"operator {op.index} ({op.type}): the {what} tensor must be constant")
    data = g.tensor(op.inputs[k]).data
    assert data is not None
    return [int(v) for v in np.asarray(data).reshape(-1)]


def _pad_op(g: Graph, op: Op) -> dict[str, Any]:
    pads = _const(g, op, 1, "paddings")
    y = g.tensor(op.outputs[0])
    # "pad_value": set only by compiler.fold (TFLite's PAD has no such option): a space-to-batch pads with code 0
    return {"paddings": [pads[i:i + 2] for i in range(0, len(pads), 2)],
            "pad_value": int(op.options.get("pad_value", _zp(y)))}


def _strided_slice(g: Graph, op: Op) -> dict[str, Any]:
    x = g.tensor(op.inputs[0])
    begin, end, strides = (_const(g, op, k, n) for k, n in ((1, "begin"), (2, "end"), (3, "strides")))
    o = op.options
    bm, em, sam = int(o.get("begin_mask", 0)), int(o.get("end_mask", 0)), int(o.get("shrink_axis_mask", 0))
    if int(o.get("ellipsis_mask", 0)) or int(o.get("new_axis_mask", 0)):
        raise InputError(f"operator {op.index} (STRIDED_SLICE): ellipsis/new-axis masks are not supported")
    starts, stops, steps = [], [], []
    for d, size in enumerate(x.shape):
        st = strides[d] if d < len(strides) else 1
        if st == 0:
            raise InputError(f"operator {op.index} (STRIDED_SLICE): stride 0")
        b = begin[d] if d < len(begin) else 0
        e = end[d] if d < len(end) else size
        if sam >> d & 1:
            b = b + size if b < 0 else b
            starts.append(b)
            stops.append(b + 1)
            steps.append(1)
            continue
        sl = slice(None if bm >> d & 1 else b, None if em >> d & 1 else e, st)
        s0, s1, s2 = sl.indices(size)
        starts.append(s0)
        stops.append(s1)
        steps.append(s2)
    return {"start": starts, "stop": stops, "step": steps, "shrink_axis_mask": sam}


def op_params(graph: Graph, op: Op) -> dict[str, Any]:
    """All constants the int8 kernel for ``op`` needs (see module docstring)."""
    from crisp_eml.compiler.opdefs import find

    d = find(graph, op)
    if d is not None:
        return d.params(graph, op)
    t = op.type
    if t in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return _conv(graph, op)
    if t == "FULLY_CONNECTED":
        return _fc(graph, op)
    if t in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return _pool(graph, op)
    if t == "MEAN":
        return _mean(graph, op)
    if t in ("ADD", "SUB"):
        return _add_sub(graph, op)
    if t == "MUL":
        return _mul(graph, op)
    if t == "SOFTMAX":
        return _softmax(graph, op)
    if t in ("LOGISTIC", "TANH"):
        return _sigmoid_tanh(graph, op)
    if t in ("RELU", "RELU6"):
        return _relu(graph, op)
    if t == "QUANTIZE":
        return _quantize(graph, op)
    if t == "DEQUANTIZE":
        return _dequantize(graph, op)
    if t == "PAD":
        return _pad_op(graph, op)
    if t == "STRIDED_SLICE":
        return _strided_slice(graph, op)
    if t == "TRANSPOSE":
        return {"perm": _const(graph, op, 1, "permutation")}
    if t == "CONCATENATION":
        rank = len(graph.tensor(op.outputs[0]).shape)
        return {"axis": int(op.options.get("axis", 0)) % max(rank, 1)}
    if t in ("RESHAPE", "SQUEEZE"):
        return {}
    raise InputError(f"operator {op.index}: unsupported op {t}")
