"""Lower one graph op to a call of an ``eml_kernels.c`` kernel: constant arrays, a params struct, the call.

Pure. Every quantization constant (multipliers, shifts, offsets, clamps, padding, softmax/sigmoid inputs) comes
from ``compiler.params.op_params``, the function the Python reference interpreter runs on, so the generated C
and the reference cannot disagree (LOGISTIC/TANH become the reference's own 256-entry output table, SOFTMAX
takes its exp table from ``reference.activations.softmax_exp_table``); this module only re-lays them out for
the kernels (weight interleaving, bias folding, parameter structs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from crisp_eml.compiler.params import op_params
from crisp_eml.compiler.reference import activations
from crisp_eml.core import quant
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor

# op type -> kernel source sections it needs
SECTIONS: dict[str, list[str]] = {
    "CONV_2D": ["conv"], "DEPTHWISE_CONV_2D": ["dwconv"], "FULLY_CONNECTED": ["fc"],
    "AVERAGE_POOL_2D": ["pool"], "MAX_POOL_2D": ["pool"], "SOFTMAX": ["fixedpoint", "softmax"],
    "LOGISTIC": ["lut"], "TANH": ["lut"], "RELU": ["requant"],
    "RELU6": ["clamp"], "QUANTIZE": ["requant"], "RESHAPE": ["copy"], "SQUEEZE": ["copy"], "MEAN": ["mean"],
    "ADD": ["binary"], "SUB": ["binary"], "MUL": ["binary"], "PAD": ["gather"], "STRIDED_SLICE": ["gather"],
    "TRANSPOSE": ["gather"], "CONCATENATION": ["concat"],
}
LOWERABLE = frozenset(SECTIONS)


@dataclass
class Layer:
    """What one op becomes in ``<name>.c``."""

    op_index: int
    op_type: str
    sections: list[str]
    decls: list[str] = field(default_factory=list)
    call: str = ""
    weights_bytes: int = 0  # const bytes (weights, biases, tables, params)
    scratch_int16: int = 0  # int16 scratch values the kernel needs (im2col of one output pixel)
    families: list[str] = field(default_factory=list)  # whole C family files it needs (``opdefs.OpDef``)


def c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 16) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    lines = []
    for i in range(0, len(flat), per_line):
        lines.append("    " + ", ".join(_c_int(v, ctype) for v in flat[i:i + per_line]) + ",")
    body = "\n".join(lines) if lines else "    0,"
    return f"static const {ctype} {name}[{max(len(flat), 1)}] = {{\n{body}\n}};"


def _c_int(v: int, ctype: str) -> str:
    if ctype == "int32_t" and v == quant.INT32_MIN:
        return "INT32_MIN"
    return str(v)


def _struct(ctype: str, name: str, fields: dict[str, int | list[int]]) -> str:
    def val(v: int | list[int]) -> str:
        if isinstance(v, list):
            return "{" + ", ".join(_c_int(int(x), "int32_t") for x in v) + "}"
        return _c_int(int(v), "int32_t")

    body = ", ".join(f".{k} = {val(v)}" for k, v in fields.items())
    return f"static const {ctype} {name} = {{{body}}};"


def _as4d(shape: tuple[int, ...], op: Op) -> list[int]:
    if len(shape) > 4:
        raise InputError(f"operator {op.index} ({op.type}): tensors of rank {len(shape)} > 4 are not supported")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _strides(shape: list[int]) -> list[int]:
    out = [1, 1, 1, 1]
    for d in range(2, -1, -1):
        out[d] = out[d + 1] * shape[d + 1]
    return out


def conv_weight_words(w: np.ndarray, wide: bool) -> np.ndarray:
    """CONV_2D weights (rows: out channels, K) as the int32 words ``eml_conv2d_s8`` (``wide`` False: 4 int8 to a
    word, k0 in the lowest byte) or ``eml_conv2d_w16_s8`` (``wide``: 2 int16 to a word, the words (k0, k2) and
    (k1, k3), the first in the low half) reads: K padded to a multiple of 4 and the channels to an even count
    with zeros; per channel pair, for each group of 4 k, the word(s) of the first channel then the second's."""
    oc, k = w.shape
    kp, ocp = -(-k // 4) * 4, oc + oc % 2
    full = np.zeros((ocp, kp), np.int64)
    full[:oc, :k] = w
    g = full.reshape(ocp // 2, 2, kp // 4, 4).transpose(0, 2, 1, 3)  # pair, group, channel, k
    if wide:
        words = (g[..., 0:2] & 0xFFFF) | ((g[..., 2:4] & 0xFFFF) << 16)  # (k0, k2), (k1, k3)
    else:
        b = g & 0xFF
        words = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16) | (b[..., 3] << 24)
    flat = words.reshape(-1)
    return np.where(flat >= 1 << 31, flat - (1 << 32), flat)


def conv_staged(ic: int) -> bool:
    """Whether ``eml_im2col`` gathers a pixel's bytes in a byte stage first (mirrors ``eml_conv_staged``): with
    in_c not a multiple of 4 the input runs and the image borders do not fall on groups of 4."""
    return ic % 4 != 0


def conv_tiny(k: int, rq_fast: bool, shifts: list[int]) -> bool:
    """Whether a CONV_2D runs ``eml_conv2d_tk*_s8`` (few MACs an output: K = k_h * k_w * in_c <= 12): it folds the
    rounding and the output offset into one addend of 2^(e-1) + out_offset * 2^e with e = -shift, so it needs
    the fast requantization and e <= 22 (the addend plus the high mul stays below 2^31)."""
    return k <= 12 and rq_fast and all(1 <= -s <= 22 for s in shifts)


def conv_tiny_stream(w: np.ndarray, plain: np.ndarray, mult: list[int], shifts: list[int], out_off: int,
                     act_min: int = 0) -> np.ndarray:
    """The constants of ``eml_conv2d_tk*_s8`` (see eml_kernels.c), per output channel: the doubled bias (input
    offset folded in), the weight words, then m, 2^(e-1) + (out_offset - act_min) * 2^e and e = -shift (the
    clamped variants ``tk*c`` pass the activation's act_min, the others 0). Weights: K <= 4 doubled, as int16 pairs
    (low half first): K <= 2 one word (2 k0, 2 k1), else (2 k0, 2 k2), (2 k1, 2 k3); K > 4 the bytes k0..k3 of
    each group of 4 from the lowest byte; K padded with zeros."""
    oc, k = w.shape
    kp = 2 if k <= 2 else -(-k // 4) * 4
    full = np.zeros((oc, kp), np.int64)
    if k <= 4:
        full[:, :k] = 2 * w
        pairs = full.reshape(oc, 1, 2) if k <= 2 else full.reshape(oc, 2, 2).transpose(0, 2, 1)
        words = (pairs[..., 0] & 0xFFFF) | ((pairs[..., 1] & 0xFFFF) << 16)
    else:
        full[:, :k] = w
        b = full.reshape(oc, kp // 4, 4) & 0xFF
        words = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16) | (b[..., 3] << 24)
    words = np.where(words >= 1 << 31, words - (1 << 32), words)
    e = -np.asarray(shifts, np.int64)
    c = (1 << (e - 1)) + (out_off - act_min) * (1 << e)
    cols = [2 * np.asarray(plain, np.int64)[:, None], words, np.asarray(mult, np.int64)[:, None], c[:, None],
            e[:, None]]
    return np.concatenate(cols, 1).reshape(-1)


def fc_small(depth: int, per_channel: bool, rq_fast: bool, shifts: list[int]) -> bool:
    """Whether a FULLY_CONNECTED runs ``eml_fc_small_s8``: depth <= 12, per-tensor, and the small-K convolution's
    requantization conditions (see :func:`conv_tiny`)."""
    return not per_channel and conv_tiny(depth, rq_fast, shifts)


def fc_small_stream(w: np.ndarray, folded: np.ndarray, mult: int, shift: int, out_off: int) -> np.ndarray:
    """The constants of ``eml_fc_small_s8`` (see eml_kernels.c): m, 2^(e-1) + out_offset * 2^e, e = -shift, then
    per output row its doubled bias and its doubled weights as int16 pairs, per group of 4 (2 w0, 2 w2),
    (2 w1, 2 w3), low half first, the depth padded with zeros to the groups."""
    od, k = w.shape
    kp = -(-k // 4) * 4
    full = np.zeros((od, kp), np.int64)
    full[:, :k] = 2 * w
    pairs = full.reshape(od, kp // 4, 2, 2).transpose(0, 1, 3, 2).reshape(od, kp // 2, 2)
    words = (pairs[..., 0] & 0xFFFF) | ((pairs[..., 1] & 0xFFFF) << 16)
    words = np.where(words >= 1 << 31, words - (1 << 32), words)
    e = -shift
    rows = np.concatenate([2 * np.asarray(folded, np.int64)[:, None], words], 1).reshape(-1)
    return np.concatenate([np.asarray([mult, (1 << (e - 1)) + out_off * (1 << e), e], np.int64), rows])


def conv_scratch_int16(k: int, oc: int, staged: bool) -> int:
    """Scratch of ``eml_conv2d_s8``: im2col of two pixels (2 x K rounded up to 4), one int16 to align it, the
    accumulators of a block of up to 32 channels for two pixels (the second pixel's 32 int32 after the first's)
    and, when staged, the K bytes of a pixel."""
    kp = -(-k // 4) * 4
    return 2 * kp + 1 + 2 * (32 + min(oc + oc % 2, 32)) + (kp // 2 if staged else 0)


def _scale(t: Tensor) -> float:
    return float(t.scale[0]) if len(t.scale) else 0.0


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if len(t.zero_point) else 0


def dw3x3_fast(f: dict[str, int | list[int]]) -> bool:
    """The geometry ``eml_dw3x3_s8`` handles (mirrors ``eml_dw3x3_ok`` in eml_kernels.c)."""
    def i(k: str) -> int:
        v = f[k]
        assert isinstance(v, int)
        return v

    return (i("k_h") == 3 and i("k_w") == 3 and i("stride_h") == 1 and i("stride_w") == 1 and i("dil_h") == 1
            and i("dil_w") == 1 and i("depth_mul") == 1 and i("out_c") % 4 == 0 and 0 <= i("pad_h") <= 1
            and 0 <= i("pad_w") <= 1 and i("out_h") + 2 - i("pad_h") >= i("in_h")
            and i("out_w") + 2 - i("pad_w") >= i("in_w"))


def dw_ring_bytes(f: dict[str, int | list[int]], two_rows: bool = False) -> int:
    """Scratch bytes of the Cortex-M DSP depthwise 3x3 planar ring ``eml_dwp_s8`` (any stride, dilation, depth
    multiplier, channel count; mirrors ``eml_dwp_ok`` / ``eml_dwp_geometry``), 0 when it does not apply;
    ``two_rows``: the 4-row ring of two output rows per pass (stride 1, dilation 1 only). Other builds ignore
    the scratch outside ``dw3x3_fast``; the kernel writes output rows only after copying every input row they
    need (what the per-element contract allows), so the planner's grouping does not depend on it."""
    def i(k: str) -> int:
        v = f[k]
        assert isinstance(v, int)
        return v

    if i("k_h") != 3 or i("k_w") != 3 or i("pad_h") < 0 or i("pad_w") < 0 or i("out_w") < 1 or i("in_c") < 1:
        return 0
    width = (i("out_w") - 1) * i("stride_w") + 2 * i("dil_w") + 1
    # padding shared by neighbouring channels, except in the split layout of dilation 2 at stride 1
    split = i("dil_w") == 2 and i("stride_w") == 1
    shared = 0 if split else min(max(width - i("pad_w") - i("in_w"), 0), i("pad_w"))
    blk = (i("in_c") - 1) * (width - shared) + width
    s1 = all(i(k) == 1 for k in ("stride_h", "stride_w", "dil_h", "dil_w"))
    rows = 4 if two_rows and s1 else 2 * i("dil_h") + 1
    return rows * blk + 4


DW_RECORD_WORDS = 9  # EML_DWP_REC: int32 words of one output channel's record


def dw_records_bytes(f: dict[str, int | list[int]]) -> int:
    """Scratch bytes, after the ring, of the per-channel records ``eml_dwp_records`` makes once per call for the
    dilation-1 loops (and dilation 2 at stride 1) of ``eml_dwp_s8`` with the fast requantization (3 bytes for
    aligning them), 0 where the kernel never uses them."""
    def i(k: str) -> int:
        v = f[k]
        assert isinstance(v, int)
        return v

    applies = i("k_h") == 3 and i("k_w") == 3 and i("rq_fast") == 1 and (
        i("dil_w") == 1 or (i("dil_w") == 2 and i("stride_w") == 1))
    return 4 * DW_RECORD_WORDS * i("out_c") + 3 if applies else 0


# balanced gives the direct depthwise kernels their records only up to this many bytes: the scratch is one static
# block beside the arena, so a wide 5x5 layer (87 B a channel: 84 KB at 960 channels) would add its records to
# the model's RAM; --optimize speed gives them whatever their size
DW_DIRECT_BALANCED_MAX = 16384


def dw_direct_bytes(f: dict[str, int | list[int]]) -> int:
    """Scratch bytes of the Cortex-M DSP direct depthwise kernels: ``eml_dwn_s8`` (3x3 at stride_w >= 2, or 1 at
    depth multiplier 2 with a clamp and >= 12 input channels, mirrors
    ``eml_dwn_ok``) and ``eml_dwk_s8`` (any other window up to 7x7 at any stride, mirrors ``eml_dwk_ok`` /
    ``eml_dwk_bytes``) in eml_kernels.c, less their scratch tests,
    0 when it does not apply. Proportional to the channels: records of 12 + 2 K bytes a channel (K = k_h k_w taps;
    2 K more per tail channel at multiplier 1), a K-tap patch of the input channels, 4 for alignment."""
    def i(k: str) -> int:
        v = f[k]
        assert isinstance(v, int)
        return v

    kh, kw, oc = i("k_h"), i("k_w"), i("out_c")
    k3 = kh == 3 and kw == 3
    # 3x3 at stride 1: only multiplier 2, clamped, >= 12 input channels (there it beats the ring)
    s1 = (k3 and i("stride_w") == 1 and i("depth_mul") == 2 and i("in_c") >= 12
          and (i("act_min") != -128 or i("act_max") != 127))
    ok = (1 <= kh <= 7 and 1 <= kw <= 7 and (not k3 or i("stride_w") >= 2 or s1) and i("dil_h") == 1
          and i("dil_w") == 1 and i("stride_w") >= 1 and i("stride_h") >= 1 and i("depth_mul") in (1, 2)
          and i("rq_fast") == 1 and i("pad_h") >= 0 and i("pad_w") >= 0)
    if not ok:
        return 0
    if k3:
        return 39 * oc + 2 * (oc % 4) + 4
    k = kh * kw
    return (12 + 3 * k) * oc + (2 * k * (oc % 4) if i("depth_mul") == 1 else 0) + 4


DW_TINY_CHANNELS = 3  # eml_dwt_s8 takes depthwise 3x3 layers of at most this many channels (multiplier 1) ...
DW_TINY_MIN_PIXELS = 16  # ... and at least this many output pixels (below, its fixed cost exceeds eml_dwn_s8's)


def dw_tiny(f: dict[str, int | list[int]]) -> bool:
    """Whether the depthwise layer runs the Cortex-M DSP kernel of few channels ``eml_dwt_s8`` (section dwt;
    mirrors ``eml_dwt_ok`` in eml_kernels.c, less its band-count fallback): 3x3, multiplier 1, 1 to
    DW_TINY_CHANNELS channels, dilation 1, stride_w >= 2, at least 3 input columns and DW_TINY_MIN_PIXELS output
    pixels, where the kernels of 4 channels a word waste lanes and their records and border patches cost more than
    the MACs (at stride 1 the planar ring stays ahead). It needs no scratch."""
    def i(k: str) -> int:
        v = f[k]
        assert isinstance(v, int)
        return v

    return (i("k_h") == 3 and i("k_w") == 3 and i("dil_w") == 1 and i("dil_h") == 1 and i("depth_mul") == 1
            and 1 <= i("in_c") <= DW_TINY_CHANNELS and i("out_c") == i("in_c") and i("rq_fast") == 1
            and i("pad_h") >= 0 and i("pad_w") >= 0 and i("in_w") >= 3 and i("stride_w") >= 2
            and i("stride_h") >= 1 and i("out_h") * i("out_w") >= DW_TINY_MIN_PIXELS)


DW_FEW_PIXELS = 2  # eml_dwf_s8 takes depthwise layers of at most this many output pixels (multiplier 1, no padding)
DW_FEW_MIN_TAPS = 25  # ... of windows of at least this many taps (3x3: eml_dwn_s8's records stay ahead)
DW_FEW_MIN_CHANNELS = 8  # ... and at least this many channels (the last in_c % 4 take a whole group again)


def dw_few(f: dict[str, int | list[int]]) -> bool:
    """Whether the depthwise layer runs the Cortex-M DSP kernel of a few output pixels ``eml_dwf_s8`` (section dwf;
    mirrors ``eml_dwf_ok`` in eml_kernels.c, which needs only 4 channels and any window): multiplier 1, at least
    DW_FEW_MIN_CHANNELS channels, dilation_w 1, windows of DW_FEW_MIN_TAPS to 49 taps, no padding (every window
    inside the image), at most DW_FEW_PIXELS output pixels, where the direct kernels' per-call records cost more
    than the MACs of so few windows (5x5x16, 1 pixel: 7.5 -> 4.7 instructions/MAC; at 4 pixels of 64 channels the
    records win). It needs no scratch."""
    def i(k: str) -> int:
        v = f[k]
        assert isinstance(v, int)
        return v

    inside = ((i("out_h") - 1) * i("stride_h") + (i("k_h") - 1) * i("dil_h") < i("in_h")
              and (i("out_w") - 1) * i("stride_w") + (i("k_w") - 1) * i("dil_w") < i("in_w"))
    return (1 <= i("k_h") <= 7 and 1 <= i("k_w") <= 7 and i("k_h") * i("k_w") >= DW_FEW_MIN_TAPS
            and i("depth_mul") == 1 and i("in_c") == i("out_c") >= DW_FEW_MIN_CHANNELS and i("dil_w") == 1
            and i("rq_fast") == 1 and i("pad_h") == 0 and i("pad_w") == 0 and inside
            and i("out_h") * i("out_w") <= DW_FEW_PIXELS and not dw3x3_fast(f))


def rq_fast_ok(bias: np.ndarray | None, w_rows: np.ndarray, shifts: list[int]) -> bool:
    """Whether a convolution may requantize with ``eml_mbqm_fast``: every shift <= -1 and every partial sum of
    every accumulator provably below 2^30 in magnitude. Any partial sum is at most |bias| + 3 * 255 * sum|w| of
    its channel (inputs plus offsets are within +-255; the factor 3 covers the folded-offset variants of the
    bias the kernels start from), so the bound only needs the constants."""
    if not shifts or max(shifts) > -1:
        return False
    b = np.abs(bias) if bias is not None else np.zeros(w_rows.shape[0], np.int64)
    bound = b + 3 * 255 * np.abs(w_rows).sum(axis=1)
    return bool(int(bound.max()) < (1 << 30))


def _bias(g: Graph, op: Op, n: int) -> np.ndarray | None:
    """The constant bias of ``op`` (one value per each of its ``n`` output channels), or None when it has none."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = g.tensor(op.inputs[2])
        if b.data is None:
            raise InputError(f"operator {op.index} ({op.type}): bias must be constant")
        values = np.asarray(b.data, np.int64).reshape(-1)
        if values.size != n:
            raise InputError(f"operator {op.index} ({op.type}): bias has {values.size} values for {n} output channels")
        return values
    return None


def _const(g: Graph, op: Op, i: int) -> Tensor:
    t = g.tensor(op.inputs[i])
    if t.data is None:
        raise InputError(f"operator {op.index} ({op.type}): input {i} must be a constant tensor")
    return t


# constant operands of ADD/SUB/MUL are expanded to the output's size as int32: only up to this many elements
FOLD_MAX_ELEMENTS = 4096


def fold_constant_binary(
    g: Graph, op: Op,
) -> tuple[int, dict[str, int | list[int]], np.ndarray, np.ndarray | None] | None:
    """ADD/SUB/MUL with exactly one constant int8 operand and an unbroadcast variable one: precompute, with the
    reference interpreter's own integer functions, everything that depends only on the constant.

    Returns (variable input index, ``eml_binary_const_params_t`` fields, per-output-element int32 constant
    term, 256-entry int32 table of the variable's rescaled value for ADD/SUB or None for MUL), or None when
    the op does not qualify (the generic ``eml_binary_s8`` is used then). Bit-exact by construction: each
    term is the same ``multiply_by_quantized_multiplier`` of the same int32 the reference computes, and the
    sum of the two terms is proved to stay inside int32 (no wrap) before folding.
    """
    if len(op.inputs) != 2:
        return None
    ta, tb = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    consts = [t.data is not None for t in (ta, tb)]
    if consts.count(True) != 1:
        return None
    ci = consts.index(True)
    vi = 1 - ci
    tc, tv, out_t = (ta, tb)[ci], (ta, tb)[vi], g.tensor(op.outputs[0])
    out_shape = tuple(int(d) for d in out_t.shape)
    size = int(np.prod(out_shape))
    if tc.dtype != "int8" or tv.dtype != "int8" or tuple(int(d) for d in tv.shape) != out_shape:
        return None
    if size > FOLD_MAX_ELEMENTS and int(np.prod(tc.shape)) != size:
        return None
    try:
        cv = np.broadcast_to(np.asarray(tc.data, np.int64).reshape(tc.shape), out_shape).reshape(-1)
    except ValueError:
        return None
    prm = op_params(g, op)
    offs = (int(prm["input1_offset"]), int(prm["input2_offset"]))
    values = np.arange(-128, 128, dtype=np.int64)
    tab: np.ndarray | None
    if op.type == "MUL":
        c = cv + offs[ci]
        tab = None
        ends = np.outer(values[[0, -1]] + offs[vi], c)
        lo, hi = int(ends.min()), int(ends.max())
    else:
        ls = int(prm["left_shift"])
        mults = ((prm["input1_multiplier"], prm["input1_shift"]), (prm["input2_multiplier"], prm["input2_shift"]))

        def rescale(v: np.ndarray, i: int) -> np.ndarray:
            shifted = quant.wrap_int32((v + offs[i]) * (1 << ls))
            return np.asarray(quant.multiply_by_quantized_multiplier(shifted, *mults[i]), np.int64)

        sign_c = -1 if (op.type == "SUB" and ci == 1) else 1
        sign_v = -1 if (op.type == "SUB" and vi == 1) else 1
        c = sign_c * rescale(cv, ci)
        tab = sign_v * rescale(values, vi)
        lo, hi = int(tab.min() + c.min()), int(tab.max() + c.max())
    if lo < quant.INT32_MIN or hi > 2**31 - 1:
        return None
    m, sh = int(prm["output_multiplier"]), int(prm["output_shift"])
    fast = int(max(abs(lo), abs(hi)) < 2**30 and sh <= -1 and m >= 0)
    fields: dict[str, int | list[int]] = dict(
        size=size, is_mul=int(op.type == "MUL"), fast=fast, x_offset=offs[vi], out_multiplier=m, out_shift=sh,
        out_offset=int(prm["output_offset"]), act_min=int(prm["act_min"]), act_max=int(prm["act_max"]))
    return vi, fields, c, tab


class LowerCtx:
    """What a lowering needs: the layer being built, arena addresses and helpers to emit constants."""

    def __init__(self, g: Graph, op: Op, prefix: str, ptr: Callable[[int], str], sections: list[str]) -> None:
        self.g, self.op, self.prefix, self.ptr = g, op, prefix, ptr
        self.layer = Layer(op.index, op.type, list(sections))
        self.p = f"{prefix}_l{op.index}"  # prefix of this layer's C symbols

    def add_array(self, ctype: str, suffix: str, values: np.ndarray) -> str:
        """A ``static const`` array in ``<name>.c``; returns its C name and counts its bytes as weights."""
        name = f"{self.p}_{suffix}"
        self.layer.decls.append(c_array(ctype, name, values))
        self.layer.weights_bytes += max(int(np.asarray(values).size), 1) * np.dtype(ctype[:-2]).itemsize
        return name

    def drop_array(self, name: str) -> None:
        """Take back an array ``add_array`` made (a kernel that turned out not to read it)."""
        head = f" {name}["
        for i, d in enumerate(self.layer.decls):
            if d.startswith("static const ") and head in d.split("=", 1)[0]:
                ctype = d[len("static const "):].split(" ", 1)[0]
                n = int(d.split("[", 1)[1].split("]", 1)[0])
                self.layer.weights_bytes -= n * np.dtype(ctype[:-2]).itemsize
                del self.layer.decls[i]
                return
        raise KeyError(name)

    def add_struct(self, ctype: str, fields: dict[str, int | list[int]], suffix: str = "p") -> str:
        """A ``static const`` parameter struct; returns its C name."""
        name = f"{self.p}_{suffix}"
        self.layer.decls.append(_struct(ctype, name, fields))
        self.layer.weights_bytes += 4 * sum(len(v) if isinstance(v, list) else 1 for v in fields.values())
        return name

    def operand(self, i: int, suffix: str) -> str:
        """An input's C address: the arena for activations, a const array for constant tensors."""
        t = self.g.tensor(self.op.inputs[i])
        if t.data is None:
            return self.ptr(self.op.inputs[i])
        if t.dtype != "int8":
            raise InputError(f"operator {self.op.index} ({self.op.type}): constant input {i} must be int8")
        return self.add_array("int8_t", suffix, np.asarray(t.data, np.int64))


def _concat_in_place(g: Graph, op: Op, offsets: Mapping[int, int] | None) -> bool:
    """Whether every input of a concatenation whose inputs are whole blocks of its output (nothing outside the
    axis) already sits where the output holds it in the arena (the planner's write-order overlap put it there),
    so the concatenation has nothing to move."""
    if offsets is None or op.outputs[0] not in offsets:
        return False
    pos = offsets[op.outputs[0]]
    for ti in op.inputs:
        if g.tensor(ti).data is not None or offsets.get(ti) != pos:
            return False
        pos += g.tensor(ti).nbytes
    return True


def lower_op(g: Graph, op: Op, prefix: str, ptr: Callable[[int], str], *, optimize: str = "balanced",
             offsets: Mapping[int, int] | None = None) -> Layer:
    """``ptr(tensor_index)`` gives the C expression of an activation tensor's address in the arena; ``optimize``
    (ram | balanced | speed) picks kernels and weight layouts where those pull apart; ``offsets`` (the plan's
    arena offsets, when known) lets a concatenation see that its producers already wrote it in place."""
    from crisp_eml.compiler.opdefs import find

    d = find(g, op)
    if d is not None:
        ctx = LowerCtx(g, op, prefix, ptr, list(d.sections))
        ctx.layer.families = list(d.c_families)
        d.lower(g, op, ctx)
        return ctx.layer
    if op.type not in LOWERABLE:
        raise InputError(f"op {op.type} (operator {op.index}) has no C kernel yet; C kernels exist for "
                         f"{', '.join(sorted(LOWERABLE))}")
    ctx = LowerCtx(g, op, prefix, ptr, SECTIONS[op.type])
    layer, p = ctx.layer, ctx.p
    add_array, add_struct, operand = ctx.add_array, ctx.add_struct, ctx.operand
    in_t, out_t = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    # a constant first input (e.g. SUB c - x) has no arena address; the ops that allow one use operand()
    x, y = (ptr(op.inputs[0]) if in_t.data is None else ""), ptr(op.outputs[0])
    o = op.options

    if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        prm = op_params(g, op)
        w = _const(g, op, 1)
        if in_t.shape[0] != 1:
            raise InputError(f"operator {op.index} ({op.type}): batch size {in_t.shape[0]} is not supported")
        _, ih, iw, ic = in_t.shape
        _, oh, ow, oc = out_t.shape
        kh, kw = int(prm["filter_h"]), int(prm["filter_w"])
        bias = _bias(g, op, oc)
        wq = np.asarray(w.data, np.int64)
        in_off = int(prm["input_offset"])
        m = add_array("int32_t", "mult", np.asarray(prm["output_multiplier"], np.int64))
        s = add_array("int32_t", "shift", np.asarray(prm["output_shift"], np.int64))
        geo = dict(in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc)
        rest = dict(k_h=kh, k_w=kw, stride_h=prm["stride_h"], stride_w=prm["stride_w"], dil_h=prm["dilation_h"],
                    dil_w=prm["dilation_w"], pad_h=prm["pad_h"], pad_w=prm["pad_w"], in_offset=in_off,
                    out_offset=prm["output_offset"], act_min=prm["act_min"], act_max=prm["act_max"],
                    rq_fast=int(rq_fast_ok(bias, wq.reshape(-1, oc).T if op.type == "DEPTHWISE_CONV_2D"
                                           else wq.reshape(oc, -1), prm["output_shift"])))
        if op.type == "CONV_2D":
            # int8 weights in flash (balanced and ram: a one-pixel im2col would halve col but cost ~30% of the
            # speed, so ram takes the same kernel); speed: int16 weights (2x the flash, LDRD pairs)
            wide = optimize == "speed"
            # the input offset folded into the bias: the kernel multiplies raw inputs (-in_offset off the image)
            plain = (bias if bias is not None else np.zeros(oc, np.int64)) + in_off * wq.reshape(oc, -1).sum(1)
            if int(np.abs(plain).max()) >= 1 << 31:
                raise InputError(f"operator {op.index} (CONV_2D): bias plus input offset times the weights "
                                 "does not fit in int32")
            ps = add_struct("eml_conv_params_t", {**geo, **rest})
            shifts = [int(v) for v in prm["output_shift"]]
            if conv_tiny(kh * kw * ic, bool(rest["rq_fast"]), shifts):
                # few MACs an output: one stream of biases, weights and requantization constants, no scratch;
                # the clamped variants requantize to output - act_min (see eml_kernels.c convtk)
                clamped = prm["act_min"] > -128 or prm["act_max"] < 127
                st = add_array("int32_t", "wq", conv_tiny_stream(wq.reshape(oc, -1), plain,
                                                                 [int(v) for v in prm["output_multiplier"]],
                                                                 shifts, int(prm["output_offset"]),
                                                                 int(prm["act_min"]) if clamped else 0))
                ctx.drop_array(m)  # the stream carries them
                ctx.drop_array(s)
                k = kh * kw * ic
                fn = f"tk{0 if k <= 2 else -(-k // 4)}{'c' if clamped else ''}"
                layer.sections += ["convtk", f"conv{fn}"]
                layer.call = f"eml_conv2d_{fn}_s8(&{ps}, {x}, {st}, {y});"
                return layer
            wn = add_array("int32_t", "w", conv_weight_words(wq.reshape(oc, -1), wide))
            b = add_array("int32_t", "bias", np.concatenate([plain, np.zeros(oc % 2, np.int64)]))
            layer.scratch_int16 = conv_scratch_int16(kh * kw * ic, oc, conv_staged(ic))
            kernel = "eml_conv2d_w16_s8" if wide else "eml_conv2d_s8"
            if wide:
                layer.sections.append("conv16")
            layer.call = f"{kernel}(&{ps}, {x}, {wn}, {b}, {m}, {s}, {prefix}_col, {y});"
        else:
            dm = int(prm["depth_multiplier"])
            if ic * dm != oc:
                raise InputError(f"operator {op.index} (DEPTHWISE_CONV_2D): {oc} output channels are not a "
                                 f"multiple of {ic} input channels")
            wn = add_array("int8_t", "w", wq)
            taps = wq.reshape(kh * kw, oc).sum(0)
            plain = bias if bias is not None else np.zeros(oc, np.int64)
            b = add_array("int32_t", "bias_full", np.concatenate([plain + in_off * taps, plain]))
            dwf: dict[str, int | list[int]] = {**geo, "depth_mul": dm, **rest}
            # rows scratch: the 3-row ring of every build where it applies (eml_dw3x3_s8 / eml_dwp_s8; the DSP
            # kernel computes two output rows a pass when 4 planar rows fit in it), the DSP planar ring of any other
            # 3x3 (4 rows at stride 1, not in ram mode); speed: always room for two output rows a pass
            fast = dw3x3_fast(dwf)
            ring = dw_ring_bytes(dwf, two_rows=optimize == "speed" or (optimize == "balanced" and not fast))
            # the per-channel records after the ring (after a 4-row one where the kernel would take that first):
            # speed always, balanced when they at most double the ring; not where the direct kernel runs
            direct = dw_direct_bytes(dwf)
            rec = 0 if direct else dw_records_bytes(dwf)
            if ring and rec and (optimize == "speed" or (optimize == "balanced" and rec <= ring)):
                ring = dw_ring_bytes(dwf, two_rows=True) + rec
            if fast:
                ring = max(ring, 3 * (ow + 2) * ic + 4 * oc)
            elif optimize == "ram":
                ring = 0
            elif direct and (optimize == "speed" or direct <= DW_DIRECT_BALANCED_MAX):
                # speed, and balanced within bounds: room for the Cortex-M direct kernels (eml_dwn_s8: 3x3 at
                # stride >= 2; eml_dwk_s8: other windows up to 7x7 at any stride; multiplier 1 or 2), which need
                # their records whatever the row width: on narrow rows they exceed the ring, and the ring kernel
                # takes ~1.5-2x their instructions there; other windows have no ring and the element loop takes
                # 2-4x (other builds ignore it)
                ring = max(ring, direct)
            tiny = "dwt" if dw_tiny(dwf) else "dwf" if dw_few(dwf) else ""
            if tiny:  # eml_dwt_s8 / eml_dwf_s8 need no scratch (other builds: the element loop; not dw3x3_fast)
                ring = 0
            rows = f"(int8_t *){prefix}_col" if ring else "NULL"
            layer.scratch_int16 = (ring + 1) // 2
            ps = add_struct("eml_dwconv_params_t", {**dwf, "rows_bytes": ring})
            # windows other than 3x3 with the direct kernel's scratch: its own entry and section (3x3 models
            # carry none of its code)
            dwk = bool(ring) and direct > 0 and (kh, kw) != (3, 3)
            if dwk or tiny:
                layer.sections.append(tiny or "dwk")
            kernel = f"eml_{tiny}_s8" if tiny else "eml_dwk_s8" if dwk else "eml_dwconv2d_s8"
            layer.call = f"{kernel}(&{ps}, {x}, {wn}, {b}, {m}, {s}, {rows}, {y});"
    elif op.type == "FULLY_CONNECTED":
        prm = op_params(g, op)
        w = _const(g, op, 1)
        out_depth, in_depth = int(prm["output_depth"]), int(prm["accum_depth"])
        if len(w.zero_point) and int(np.abs(w.zero_point).max()) != 0:
            raise InputError(f"operator {op.index} (FULLY_CONNECTED): asymmetric weights are not supported")
        size = int(np.prod(in_t.shape))
        bias = _bias(g, op, out_depth)
        wq = np.asarray(w.data, np.int64)
        folded = (bias if bias is not None else np.zeros(out_depth, np.int64)) + int(prm["input_offset"]) * wq.sum(1)
        # rows padded with zero weights to a whole number of words: the Cortex-M DSP path reads each row's tail
        # as one word (multiplied by the input's tail bytes, zero above), and every row starts word-aligned
        k_pad = (in_depth + 3) & ~3
        wp = np.zeros((out_depth, k_pad), np.int64)
        wp[:, :in_depth] = wq.reshape(out_depth, in_depth)
        shifts = [int(v) for v in np.asarray(prm["output_shift"], np.int64).reshape(-1)]
        # the folded requantization (eml_fc_rq, per-tensor): |accumulator| < 2^30 (rq_fast_ok) and
        # K = 2^(e-1) + out_offset * 2^e within int32 next to |hm| < 2^30 (e = -shift <= 22)
        fast = rq_fast_ok(folded, wq.reshape(out_depth, in_depth), shifts)
        rq_fold = int(not int(prm["per_channel"]) and fast and min(shifts) >= -22)
        if fc_small(in_depth, bool(prm["per_channel"]), fast, shifts):
            # small depth: one stream of requantization constants, biases and weights (eml_fc_small_s8)
            st = add_array("int32_t", "wq", fc_small_stream(wq.reshape(out_depth, in_depth), folded,
                                                            int(np.asarray(prm["output_multiplier"]).reshape(-1)[0]),
                                                            shifts[0], int(prm["output_offset"])))
            ps = add_struct("eml_fc_params_t", dict(batches=size // in_depth, in_depth=in_depth, out_depth=out_depth,
                                                    per_channel=0, out_offset=prm["output_offset"],
                                                    act_min=prm["act_min"], act_max=prm["act_max"], k_pad=k_pad,
                                                    rq_fold=rq_fold))
            layer.sections.append("fcs")
            layer.call = f"eml_fc_small_s8(&{ps}, {x}, {st}, {y});"
            return layer
        wn = add_array("int8_t", "w", wp)
        b = add_array("int32_t", "bias_folded", folded)
        m = add_array("int32_t", "mult", np.asarray(prm["output_multiplier"], np.int64))
        s = add_array("int32_t", "shift", np.asarray(prm["output_shift"], np.int64))
        ps = add_struct("eml_fc_params_t", dict(batches=size // in_depth, in_depth=in_depth, out_depth=out_depth,
                                                per_channel=int(prm["per_channel"]), out_offset=prm["output_offset"],
                                                act_min=prm["act_min"], act_max=prm["act_max"], k_pad=k_pad,
                                                rq_fold=rq_fold))
        layer.call = f"eml_fc_s8(&{ps}, {x}, {wn}, {b}, {m}, {s}, {y});"
    elif op.type in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        prm = op_params(g, op)
        n, ih, iw, c = in_t.shape
        _, oh, ow, _ = out_t.shape
        ps = add_struct("eml_pool_params_t", dict(
            batches=n, in_h=ih, in_w=iw, ch=c, out_h=oh, out_w=ow, k_h=prm["filter_h"], k_w=prm["filter_w"],
            stride_h=prm["stride_h"], stride_w=prm["stride_w"], pad_h=prm["pad_h"], pad_w=prm["pad_w"],
            act_min=prm["act_min"], act_max=prm["act_max"]))
        fn = "eml_avgpool_s8" if op.type == "AVERAGE_POOL_2D" else "eml_maxpool_s8"
        layer.call = f"{fn}(&{ps}, {x}, {y});"
    elif op.type == "SOFTMAX":
        prm = op_params(g, op)
        depth = int(in_t.shape[-1])
        if _zp(out_t) != -128 or abs(_scale(out_t) - 1.0 / 256) > 1e-9:
            raise InputError(f"operator {op.index} (SOFTMAX): int8 output must have scale 1/256, zero point -128")
        ps = add_struct("eml_softmax_params_t", dict(outer=int(np.prod(in_t.shape)) // depth, depth=depth,
                                                     diff_min=prm["diff_min"]))
        exp_tab = add_array("int32_t", "exp", activations.softmax_exp_table(prm))
        layer.call = f"eml_softmax_s8(&{ps}, {exp_tab}, {x}, {y});"
    elif op.type in ("RELU", "QUANTIZE"):
        if in_t.dtype != "int8" or out_t.dtype != "int8":
            raise InputError(f"operator {op.index} ({op.type}): only int8 -> int8 is supported in C")
        prm = op_params(g, op)
        if op.type == "QUANTIZE":
            rq: dict[str, int | list[int]] = dict(
                in_offset=-prm["input_zero_point"], out_offset=prm["output_zero_point"], multiplier=prm["multiplier"],
                shift=prm["shift"], act_min=-128, act_max=127)
        else:
            rq = dict(in_offset=-prm["input_offset"], out_offset=prm["output_offset"],
                      multiplier=prm["output_multiplier"], shift=prm["output_shift"], act_min=prm["act_min"],
                      act_max=prm["act_max"])
        ps = add_struct("eml_requant_params_t", {"size": int(np.prod(in_t.shape)), **rq})
        layer.call = f"eml_requant_s8(&{ps}, {x}, {y});"
    elif op.type == "RELU6":
        prm = op_params(g, op)
        layer.call = f"eml_clamp_buf_s8({x}, {y}, {int(np.prod(in_t.shape))}, {prm['zero']}, {prm['six']});"
    elif op.type in ("LOGISTIC", "TANH"):
        # an int8 -> int8 function of one element: the reference kernel's 256 outputs, looked up
        act = activations.tanh if op.type == "TANH" else activations.logistic
        lut = add_array("int8_t", "lut", act(np.arange(-128, 128, dtype=np.int8), op_params(g, op)))
        layer.call = f"eml_lut_s8({lut}, {x}, {y}, {int(np.prod(in_t.shape))});"
    elif op.type == "MEAN":
        prm = op_params(g, op)
        shape = _as4d(in_t.shape, op)
        lead = 4 - len(in_t.shape)
        red = [int(d - lead in prm["axes"]) for d in range(4)]
        ps = add_struct("eml_mean_params_t", dict(
            shape=shape, red=red, count=prm["num_elements"], input_zero_point=prm["input_zero_point"],
            output_zero_point=prm["output_zero_point"], multiplier=prm["output_multiplier"],
            shift=prm["output_shift"]))
        layer.call = f"eml_mean_s8(&{ps}, {x}, {y});"
    elif op.type in ("ADD", "SUB", "MUL") and (folded := fold_constant_binary(g, op)) is not None:
        var_i, fields_c, c_values, tab = folded
        layer.sections = ["binary_const"]
        c_name = add_array("int32_t", "c", c_values)
        tab_name = add_array("int32_t", "tab", tab) if tab is not None else "0"
        ps = add_struct("eml_binary_const_params_t", fields_c)
        layer.call = f"eml_binary_const_s8(&{ps}, {ptr(op.inputs[var_i])}, {c_name}, {tab_name}, {y});"
    elif op.type in ("ADD", "SUB", "MUL"):
        prm = op_params(g, op)
        oshape = _as4d(out_t.shape, op)

        def bstrides(i: int) -> list[int]:
            sh = _as4d(g.tensor(op.inputs[i]).shape, op)
            st = _strides(sh)
            return [0 if sh[d] == 1 and oshape[d] != 1 else st[d] for d in range(4)]

        a_ptr, b_ptr = operand(0, "a"), operand(1, "b")
        fields: dict[str, int | list[int]] = dict(
            shape=oshape, a_stride=bstrides(0), b_stride=bstrides(1), op=("ADD", "SUB", "MUL").index(op.type),
            left_shift=prm.get("left_shift", 0), in1_offset=prm["input1_offset"], in2_offset=prm["input2_offset"],
            in1_multiplier=prm.get("input1_multiplier", 0), in1_shift=prm.get("input1_shift", 0),
            in2_multiplier=prm.get("input2_multiplier", 0), in2_shift=prm.get("input2_shift", 0),
            out_multiplier=prm["output_multiplier"], out_shift=prm["output_shift"], out_offset=prm["output_offset"],
            act_min=prm["act_min"], act_max=prm["act_max"])
        ps = add_struct("eml_binary_params_t", fields)
        layer.call = f"eml_binary_s8(&{ps}, {a_ptr}, {b_ptr}, {y});"
    elif op.type in ("PAD", "STRIDED_SLICE", "TRANSPOSE"):
        ishape = _as4d(in_t.shape, op)
        ist = _strides(ishape)
        lead = 4 - len(in_t.shape)
        if op.type == "PAD":
            prm = op_params(g, op)
            before = [0] * lead + [int(pb[0]) for pb in prm["paddings"]]
            shape = _as4d(out_t.shape, op)
            g_lo = before
            g_hi = [before[d] + ishape[d] for d in range(4)]
            step, base, pad_value = ist, -sum(before[d] * ist[d] for d in range(4)), int(prm["pad_value"])
        elif op.type == "STRIDED_SLICE":
            prm = op_params(g, op)
            start = [0] * lead + [int(v) for v in prm["start"]]
            stp = [1] * lead + [int(v) for v in prm["step"]]
            shape = [1] * lead + [len(range(a, b, c)) for a, b, c in zip(prm["start"], prm["stop"], prm["step"],
                                                                          strict=True)]
            g_lo, g_hi = [0] * 4, shape
            step, base, pad_value = [stp[d] * ist[d] for d in range(4)], sum(start[d] * ist[d] for d in range(4)), 0
        else:
            perm_t = _const(g, op, 1)
            perm = [int(v) % len(in_t.shape) + lead for v in np.asarray(perm_t.data).reshape(-1)]
            perm = list(range(lead)) + perm
            shape = [ishape[perm[d]] for d in range(4)]
            g_lo, g_hi = [0] * 4, shape
            step, base, pad_value = [ist[perm[d]] for d in range(4)], 0, 0
        if int(np.prod(shape)) != int(np.prod(out_t.shape)):
            raise InputError(f"operator {op.index} ({op.type}): output shape {out_t.shape} does not match")
        ps = add_struct("eml_gather_params_t", dict(shape=shape, lo=g_lo, hi=g_hi, step=step, base=base,
                                                    pad_value=pad_value))
        layer.call = f"eml_gather_s8(&{ps}, {x}, {y});"
    elif op.type == "CONCATENATION":
        rank = len(out_t.shape)
        axis = int(o.get("axis", 0)) % max(rank, 1)
        if str(o.get("fused_activation_function", "NONE")) != "NONE":
            raise InputError(f"operator {op.index} (CONCATENATION): fused activations are not supported")
        for i in op.inputs:
            t = g.tensor(i)
            if _scale(t) != _scale(out_t) or _zp(t) != _zp(out_t):
                raise InputError(f"operator {op.index} (CONCATENATION): inputs must share the output's "
                                 "quantization")
        outer = int(np.prod(out_t.shape[:axis]))
        inner = [int(np.prod(g.tensor(i).shape[axis:])) for i in op.inputs]
        if outer == 1 and _concat_in_place(g, op, offsets):
            layer.sections = []
            layer.call = "/* in place: the producers wrote each input where the output holds it */"
            return layer
        srcs = [operand(k, f"in{k}") for k in range(len(op.inputs))]
        layer.decls.append(f"static const int8_t *const {p}_ins[{len(srcs)}] = {{{', '.join(srcs)}}};")
        inn = add_array("int32_t", "inner", np.asarray(inner))
        layer.call = f"eml_concat_s8({outer}, {len(srcs)}, {p}_ins, {inn}, {y});"
    else:  # RESHAPE, SQUEEZE: same bytes; a copy only when the planner did not alias them
        if x == y:
            layer.sections = []
            layer.call = "/* alias: output shares the input's bytes */"
        else:
            layer.call = f"eml_copy_s8({x}, {y}, {int(np.prod(in_t.shape))});"
    return layer
