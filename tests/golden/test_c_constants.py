"""The generated C uses exactly the constants of ``compiler.params.op_params`` (the reference's numbers).

Every multiplier/shift table and every quantization field of every layer's parameter struct is parsed back out
of the rendered ``<name>.c`` and compared with ``op_params``: if the C lowering ever computed a constant on its
own and drifted (float vs double product, padding, activation range, softmax radius...), this fails. Pure
Python, no compiler needed.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from c_helpers import compile_to, tiny_c_models  # noqa: F401 (fixture)

from conftest import MLPERF_TINY
from crisp_eml.compiler.c.float_io import strip_float_io
from crisp_eml.compiler.params import op_params
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import activations
from crisp_eml.compiler.reference import fixedpoint as fp
from crisp_eml.core import quant
from crisp_eml.core.graph import Graph

# C struct field -> op_params key, per op type (fields the kernel reads as quantization constants)
FIELDS: dict[str, dict[str, str]] = {
    "CONV_2D": {"stride_h": "stride_h", "stride_w": "stride_w", "dil_h": "dilation_h", "dil_w": "dilation_w",
                "pad_h": "pad_h", "pad_w": "pad_w", "k_h": "filter_h", "k_w": "filter_w",
                "in_offset": "input_offset", "out_offset": "output_offset", "act_min": "act_min",
                "act_max": "act_max"},
    "FULLY_CONNECTED": {"out_offset": "output_offset", "act_min": "act_min", "act_max": "act_max",
                        "in_depth": "accum_depth", "out_depth": "output_depth"},
    "AVERAGE_POOL_2D": {"k_h": "filter_h", "k_w": "filter_w", "stride_h": "stride_h", "stride_w": "stride_w",
                        "pad_h": "pad_h", "pad_w": "pad_w", "act_min": "act_min", "act_max": "act_max"},
    "SOFTMAX": {"diff_min": "diff_min"},
    "RELU": {"out_offset": "output_offset", "multiplier": "output_multiplier", "shift": "output_shift",
             "act_min": "act_min", "act_max": "act_max"},
    "MEAN": {"input_zero_point": "input_zero_point", "output_zero_point": "output_zero_point",
             "multiplier": "output_multiplier", "shift": "output_shift", "count": "num_elements"},
}
FIELDS["DEPTHWISE_CONV_2D"] = {**FIELDS["CONV_2D"], "depth_mul": "depth_multiplier"}
FIELDS["MAX_POOL_2D"] = FIELDS["AVERAGE_POOL_2D"]
TABLES = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def _ints(text: str) -> list[int]:
    return [-2**31 if v == "INT32_MIN" else int(v) for v in re.findall(r"INT32_MIN|-?\d+", text)]


def _resolve(src: str, name: str) -> str:
    """A constant the renderer de-duplicated is ``#define COPY FIRST``: follow it to the array it names."""
    m = re.search(rf"^#define {name} (\w+)", src, re.M)
    return _resolve(src, m.group(1)) if m else name


def _struct(src: str, name: str) -> dict[str, Any]:
    name = _resolve(src, name)
    m = re.search(rf"static const eml_\w+_t {name} = \{{(.*)\}};", src)
    assert m, f"no parameter struct {name}"
    out: dict[str, Any] = {}
    for key, val in re.findall(r"\.(\w+) = (\{[^}]*\}|[^,]+)", m.group(1)):
        vals = _ints(val)
        out[key] = vals if val.startswith("{") else vals[0]
    return out


def _table(src: str, name: str, ctype: str = "int32_t") -> list[int]:
    name = _resolve(src, name)
    m = re.search(rf"static const {ctype} {name}\[\d+\] = \{{(.*?)\}};", src, re.S)
    assert m, f"no table {name}"
    return _ints(m.group(1))


def check_constants(g: Graph, src: str, name: str) -> int:
    """Compare every layer's emitted constants with op_params; returns how many values were compared."""
    n = 0
    for op in g.ops:
        prm = op_params(g, op)
        p = f"{name}_l{op.index}"
        if op.type in ("LOGISTIC", "TANH"):  # the whole op is a table of the reference kernel's outputs
            fn = activations.tanh if op.type == "TANH" else activations.logistic
            assert _table(src, f"{p}_lut", "int8_t") == fn(np.arange(-128, 128, dtype=np.int8), prm).tolist()
            n += 256
            continue
        if op.type == "SOFTMAX":  # exps of x - max = 0, -1, ..., -255, recomputed here from op_params
            d = -np.arange(256, dtype=np.int64)
            scaled = quant.saturating_rounding_doubling_high_mul(
                quant.wrap_int32(d * (1 << prm["input_left_shift"])), prm["input_multiplier"])
            want = np.where(d >= prm["diff_min"], fp.exp_on_negative_values(scaled, 5), 0)
            assert _table(src, f"{p}_exp") == want.tolist(), (op.index, op.type)
            n += 256
        if op.type not in FIELDS and op.type not in TABLES:
            continue
        if op.type == "FULLY_CONNECTED" and re.search(rf"static const int32_t {p}_wq\[", src):
            # a small-depth FC (eml_fc_small_s8): the stream starts with m, the rounding addend and e = -shift
            st = _table(src, f"{p}_wq")
            assert [st[0]] == list(np.asarray(prm["output_multiplier"]).reshape(-1)), (op.index, op.type)
            assert [-st[2]] == list(np.asarray(prm["output_shift"]).reshape(-1)), (op.index, op.type)
            n += 2
        elif op.type in TABLES and re.search(rf"static const int32_t {p}_wq\[", src):
            # a small-K convolution (eml_conv2d_tk*_s8): per channel one run of words, m and -shift near its end
            # (doubled bias, the weight words: 1 for K <= 2, 2 for K <= 4, else ceil(K / 4); m, rounding addend, e)
            oc = len(prm["output_multiplier"])
            run = np.asarray(_table(src, f"{p}_wq")).reshape(oc, -1)
            assert run[:, -3].tolist() == list(prm["output_multiplier"]), (op.index, op.type)
            assert (-run[:, -1]).tolist() == list(prm["output_shift"]), (op.index, op.type)
            # the addend 2^(e-1) + (out_offset - lo) * 2^e, lo = act_min in the clamped variants, else 0
            lo = prm["act_min"] if prm["act_min"] > -128 or prm["act_max"] < 127 else 0
            want = [(1 << (-s - 1)) + (prm["output_offset"] - lo) * (1 << -s) for s in prm["output_shift"]]
            assert run[:, -2].tolist() == want, (op.index, op.type)
            n += 3 * oc
        elif op.type in TABLES:
            assert _table(src, f"{p}_mult") == list(prm["output_multiplier"]), (op.index, op.type)
            assert _table(src, f"{p}_shift") == list(prm["output_shift"]), (op.index, op.type)
            n += 2 * len(prm["output_multiplier"])
        fields = _struct(src, f"{p}_p")
        for c_key, p_key in FIELDS[op.type].items():
            assert fields[c_key] == prm[p_key], (op.index, op.type, c_key)
            n += 1
        if op.type == "FULLY_CONNECTED":
            assert fields["per_channel"] == int(prm["per_channel"])
        if op.type == "RELU":  # op_params keeps RELU's input zero point; the kernel adds its negation
            assert fields["in_offset"] == -prm["input_offset"]
    return n


def test_kws_and_ad_tables_equal_op_params() -> None:
    for model in ("kws_ref_model", "ad01_int8"):
        g = strip_float_io(read_tflite(MLPERF_TINY / f"{model}.tflite"))
        from c_helpers import plan_for

        from crisp_eml.compiler.render import RenderOptions, render_library

        files = render_library(g, plan_for(g), RenderOptions(name="m"))
        assert check_constants(g, files["src/m.c"], "m") >= 5 * len(g.ops)


def test_tiny_models_tables_equal_op_params(tiny_c_models: dict[str, bytes], tmp_path: Any) -> None:  # noqa: F811
    seen: set[str] = set()
    for name, data in tiny_c_models.items():
        g, files = compile_to(data, tmp_path / name, name)
        check_constants(g, files[f"src/{name}.c"], name)
        seen |= {op.type for op in g.ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "MEAN", "LOGISTIC", "TANH"} <= seen


def test_a_drifted_constant_is_caught() -> None:
    """The check can fail: change one multiplier in the rendered source and it must raise."""
    g = read_tflite(MLPERF_TINY / "kws_ref_model.tflite")
    from c_helpers import plan_for

    from crisp_eml.compiler.render import RenderOptions, render_library

    src = render_library(g, plan_for(g), RenderOptions(name="m"))["src/m.c"]
    first = op_params(g, g.ops[0])["output_multiplier"][0]
    bad = src.replace(f"m_l0_mult[64] = {{\n    {first},", f"m_l0_mult[64] = {{\n    {first + 1},", 1)
    assert bad != src
    with pytest.raises(AssertionError):
        check_constants(g, bad, "m")
    assert np.asarray(op_params(g, g.ops[0])["output_shift"]).max() <= 0
