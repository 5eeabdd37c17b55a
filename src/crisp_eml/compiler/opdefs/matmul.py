"""TRANSPOSE_CONV and BATCH_MATMUL (int8): the two matrix-product ops beyond CONV_2D / FULLY_CONNECTED.

TRANSPOSE_CONV follows TFLite Micro's int8 per-channel kernel: Prepare computes the padding with
``ComputePaddingHeightWidth`` on the *output* size (dilation 1) and the per-channel multipliers with
``PopulateConvolutionQuantizationParams`` (float scales, product and division in double); Eval scatters
``(input + input_offset) * filter`` into an int32 buffer the size of the output, then adds the bias,
requantizes (``MultiplyByQuantizedMultiplier``), adds the output offset and clamps. Integer sums are exact
(and wrap identically modulo 2^32) in any order, so the C kernel gathers per output element instead (no
output-sized int32 scratch): same bytes, less RAM.

BATCH_MATMUL follows TFLM's int8 path: ``GetQuantizedConvolutionMultipler`` (scale product in float32,
divided in double), no fused activation (clamp to int8), broadcast batch dimensions (rank <= 5), ``adj_x`` /
``adj_y`` transposes; ``out = sum_k (lhs - lhs_zp) * (rhs - rhs_zp)``. Either operand may be constant; a
constant right-hand side is stored pre-transposed so the inner loop reads both operands contiguously.
C: ``eml_ops_matmul.c``. Neither op is placed in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crisp_eml.compiler.opdefs import OpDef, register
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor
from crisp_eml.core.quant import activation_range, multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32

if TYPE_CHECKING:  # typing only (c.lower imports the registry)
    from crisp_eml.compiler.c.lower import LowerCtx


def _scale(t: Tensor) -> float:
    return float(t.scale[0]) if len(t.scale) else 0.0


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if len(t.zero_point) else 0


# ---------------------------------------------------------------- TRANSPOSE_CONV

def _tc_padding(stride: int, in_size: int, filt: int, padding: str) -> int:
    """``ComputePaddingHeightWidth`` as TFLM's transpose conv calls it (``in_size`` = the op's output size)."""
    out = (in_size + stride - 1) // stride if padding == "SAME" else (in_size + stride - filt) // stride
    return max((out - 1) * stride + filt - in_size, 0) // 2


def _tc_params(g: Graph, op: Op) -> dict[str, Any]:
    if len(op.inputs) not in (3, 4):
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): needs 3 or 4 inputs, has {len(op.inputs)}")
    w, x, y = g.tensor(op.inputs[1]), g.tensor(op.inputs[2]), g.tensor(op.outputs[0])
    if w.data is None or w.dtype != "int8":
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): the filter must be a constant int8 tensor")
    if len(w.shape) != 4 or len(x.shape) != 4 or len(y.shape) != 4:
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): input, filter and output must be 4-D")
    oc, kh, kw, ic = (int(d) for d in w.shape)
    n, ih, iw, c = (int(d) for d in x.shape)
    _, oh, ow, occ = (int(d) for d in y.shape)
    if c != ic or occ != oc or int(y.shape[0]) != n:
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): filter {w.shape} does not match input {x.shape} "
                         f"and output {y.shape}")
    if len(w.scale) not in (1, oc):
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): {len(w.scale)} filter scales for {oc} channels")
    if len(w.zero_point) and int(np.abs(w.zero_point).max()) != 0:
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): asymmetric filters are not supported")
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    if sh < 1 or sw < 1:
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): strides must be >= 1")
    padding = str(o.get("padding", "VALID"))
    mult, shift = [], []
    for k in range(oc):
        fs = float(np.float32(w.scale[k] if len(w.scale) > 1 else w.scale[0]))
        m, s = quantize_multiplier(float(np.float32(_scale(x))) * fs / float(np.float32(_scale(y))))
        mult.append(m)
        shift.append(s)
    act = str(o.get("fused_activation_function", "NONE"))
    try:
        act_min, act_max = activation_range(act, _scale(y), _zp(y))
    except ValueError as exc:
        raise InputError(f"operator {op.index} (TRANSPOSE_CONV): {exc}") from None
    bias: list[int] | None = None
    if len(op.inputs) == 4 and op.inputs[3] >= 0:
        bt = g.tensor(op.inputs[3])
        if bt.data is None or bt.dtype != "int32" or bt.data.size != oc:
            raise InputError(f"operator {op.index} (TRANSPOSE_CONV): the bias must be a constant int32 [{oc}]")
        bias = [int(v) for v in np.asarray(bt.data).reshape(-1)]
    return {"batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
            "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw,
            "pad_h": _tc_padding(sh, oh, kh, padding), "pad_w": _tc_padding(sw, ow, kw, padding),
            "input_offset": -_zp(x), "output_offset": _zp(y), "output_multiplier": mult, "output_shift": shift,
            "act_min": act_min, "act_max": act_max, "bias": bias}


def _tc_reference(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    w, x = args[1], args[2]
    assert w is not None and x is not None
    xo = x.astype(np.int64) + p["input_offset"]
    wi = w.astype(np.int64)
    acc = np.zeros((p["batches"], p["out_h"], p["out_w"], p["out_c"]), np.int64)
    for ky in range(p["k_h"]):
        oy = np.arange(p["in_h"]) * p["stride_h"] - p["pad_h"] + ky
        vy = (oy >= 0) & (oy < p["out_h"])
        for kx in range(p["k_w"]):
            ox = np.arange(p["in_w"]) * p["stride_w"] - p["pad_w"] + kx
            vx = (ox >= 0) & (ox < p["out_w"])
            part = np.einsum("bhwc,oc->bhwo", xo[:, vy][:, :, vx], wi[:, ky, kx, :])
            acc[:, oy[vy][:, None], ox[vx][None, :], :] += part  # distinct (oy, ox) per tap: no collisions
    acc = wrap_int32(acc)
    if p["bias"] is not None:
        acc = wrap_int32(acc + np.asarray(p["bias"], np.int64))
    out = multiply_by_quantized_multiplier(acc, np.asarray(p["output_multiplier"], np.int64),
                                           np.asarray(p["output_shift"], np.int64)) + p["output_offset"]
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def _tc_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    from crisp_eml.compiler.params import op_params

    p = op_params(g, op)
    w = ctx.add_array("int8_t", "w", np.asarray(g.tensor(op.inputs[1]).data, np.int64))
    b = ctx.add_array("int32_t", "bias", np.asarray(p["bias"], np.int64)) if p["bias"] is not None else "NULL"
    m = ctx.add_array("int32_t", "mult", np.asarray(p["output_multiplier"], np.int64))
    s = ctx.add_array("int32_t", "shift", np.asarray(p["output_shift"], np.int64))
    keys = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
            "pad_h", "pad_w")
    fields: dict[str, int | list[int]] = {k: int(p[k]) for k in keys}
    fields.update(in_offset=int(p["input_offset"]), out_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]))
    ps = ctx.add_struct("eml_transpose_conv_params_t", fields)
    ctx.layer.call = (f"eml_transpose_conv_s8(&{ps}, {ctx.ptr(op.inputs[2])}, {w}, {b}, {m}, {s}, "
                      f"{ctx.ptr(op.outputs[0])});")


# ---------------------------------------------------------------- BATCH_MATMUL

def _bm_params(g: Graph, op: Op) -> dict[str, Any]:
    if len(op.inputs) != 2:
        raise InputError(f"operator {op.index} (BATCH_MATMUL): needs 2 inputs, has {len(op.inputs)}")
    a, b, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    for t, what in ((a, "lhs"), (b, "rhs"), (y, "output")):
        if t.dtype != "int8":
            raise InputError(f"operator {op.index} (BATCH_MATMUL): {what} must be int8, is {t.dtype}")
        if not 2 <= len(t.shape) <= 5:
            raise InputError(f"operator {op.index} (BATCH_MATMUL): {what} rank {len(t.shape)} is not in 2..5")
    if a.data is not None and b.data is not None:
        raise InputError(f"operator {op.index} (BATCH_MATMUL): both operands are constant")
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    la, lb = [1] * (5 - len(a.shape)) + list(a.shape), [1] * (5 - len(b.shape)) + list(b.shape)
    m, k = (la[4], la[3]) if adj_x else (la[3], la[4])
    kb, n = (lb[4], lb[3]) if adj_y else (lb[3], lb[4])
    if k != kb:
        raise InputError(f"operator {op.index} (BATCH_MATMUL): inner dimensions {k} and {kb} differ")
    batch = []
    for d in range(3):
        if la[d] != lb[d] and 1 not in (la[d], lb[d]):
            raise InputError(f"operator {op.index} (BATCH_MATMUL): batch dimensions {a.shape} and {b.shape} "
                             "do not broadcast")
        batch.append(max(la[d], lb[d]))
    if int(np.prod(y.shape)) != int(np.prod(batch)) * m * n:
        raise InputError(f"operator {op.index} (BATCH_MATMUL): output shape {y.shape} does not match")
    # GetQuantizedConvolutionMultipler, as per-tensor FULLY_CONNECTED: product and division in double
    real = float(np.float32(_scale(a))) * float(np.float32(_scale(b))) / float(np.float32(_scale(y)))
    mult, shift = quantize_multiplier(real)
    return {"lhs_shape": la, "rhs_shape": lb, "batch": batch, "m": m, "n": n, "k": k, "adj_x": adj_x,
            "adj_y": adj_y, "lhs_offset": -_zp(a), "rhs_offset": -_zp(b), "output_offset": _zp(y),
            "output_multiplier": mult, "output_shift": shift}


def _bm_reference(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, Any]) -> np.ndarray:
    a, b = args[0], args[1]
    assert a is not None and b is not None
    la = a.reshape(p["lhs_shape"]).astype(np.int64) + p["lhs_offset"]
    lb = b.reshape(p["rhs_shape"]).astype(np.int64) + p["rhs_offset"]
    if p["adj_x"]:
        la = np.swapaxes(la, 3, 4)
    if p["adj_y"]:
        lb = np.swapaxes(lb, 3, 4)
    acc = wrap_int32(np.matmul(la, lb))
    out = multiply_by_quantized_multiplier(acc, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
    return np.clip(out, -128, 127).astype(np.int8)


def _bm_strides(shape: list[int], batch: list[int]) -> list[int]:
    """Element strides of the three batch dimensions (0 where the operand is broadcast)."""
    inner = shape[3] * shape[4]
    return [0 if shape[d] == 1 and batch[d] != 1 else int(np.prod(shape[d + 1:3], dtype=np.int64)) * inner
            for d in range(3)]


def _bm_lower(g: Graph, op: Op, ctx: LowerCtx) -> None:
    from crisp_eml.compiler.params import op_params

    p = op_params(g, op)
    m, n, k = int(p["m"]), int(p["n"]), int(p["k"])
    lb = list(p["rhs_shape"])
    rhs_t = g.tensor(op.inputs[1])
    adj_y = bool(p["adj_y"])
    if rhs_t.data is not None:  # constant rhs: store it as (.., n, k) so both operands are read along k
        data = np.asarray(rhs_t.data, np.int64).reshape(lb)
        if not adj_y:
            data = np.swapaxes(data, 3, 4)
            lb = [*lb[:3], lb[4], lb[3]]
            adj_y = True
        rhs = ctx.add_array("int8_t", "rhs", data)
    else:
        rhs = ctx.operand(1, "rhs")
    lhs = ctx.operand(0, "lhs")
    # element (i, kk) of the lhs at i * lhs_si + kk * lhs_sk; (kk, j) of the rhs at kk * rhs_sk + j * rhs_sj
    lhs_si, lhs_sk = (1, m) if p["adj_x"] else (k, 1)
    rhs_sk, rhs_sj = (1, k) if adj_y else (n, 1)
    fields: dict[str, int | list[int]] = dict(
        batch=[int(v) for v in p["batch"]], lhs_bstride=_bm_strides(list(p["lhs_shape"]), p["batch"]),
        rhs_bstride=_bm_strides(lb, p["batch"]), m=m, n=n, k=k, lhs_si=lhs_si, lhs_sk=lhs_sk, rhs_sk=rhs_sk,
        rhs_sj=rhs_sj, lhs_offset=int(p["lhs_offset"]), rhs_offset=int(p["rhs_offset"]),
        out_offset=int(p["output_offset"]), multiplier=int(p["output_multiplier"]), shift=int(p["output_shift"]))
    ps = ctx.add_struct("eml_batch_matmul_params_t", fields)
    ctx.layer.call = f"eml_batch_matmul_s8(&{ps}, {lhs}, {rhs}, {ctx.ptr(op.outputs[0])});"


register(OpDef("TRANSPOSE_CONV", "int8", _tc_params, _tc_reference, _tc_lower, c_families=("eml_ops_matmul",),
               sections=("common",)))
register(OpDef("BATCH_MATMUL", "int8", _bm_params, _bm_reference, _bm_lower, c_families=("eml_ops_matmul",),
               sections=("common",)))
