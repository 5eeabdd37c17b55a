"""lower.dw_direct_bytes mirrors eml_dwn_ok for 3x3 depthwise at stride 1: the direct kernel takes depth multiplier 2
layers with an activation clamp and >= 12 input channels (there it beats the ring), and its scratch is granted per
mode like every direct depthwise kernel's: speed always, balanced up to DW_DIRECT_BALANCED_MAX, ram never."""

from __future__ import annotations

import re

import pytest

from crisp_eml.compiler.c.lower import dw_direct_bytes
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph

D = "DEPTHWISE_CONV_2D"


def _f(ic: int, dm: int, act: tuple[int, int], stride: int = 1) -> dict[str, int | list[int]]:
    return {"k_h": 3, "k_w": 3, "stride_h": stride, "stride_w": stride, "dil_h": 1, "dil_w": 1, "depth_mul": dm,
            "in_c": ic, "out_c": ic * dm, "rq_fast": 1, "pad_h": 1, "pad_w": 1, "act_min": act[0],
            "act_max": act[1]}


def _rows_bytes(spec: ConvSpec, optimize: str) -> int:
    g = conv_graph(spec, seed=0)
    src = render_library(g, plan_memory(g), RenderOptions(name="k", optimize=optimize))["src/k.c"]
    m = re.search(r"\.rows_bytes = (\d+)", src)
    assert m, "no depthwise params in the library"
    return int(m.group(1))


def test_stride1_direct_only_for_clamped_multiplier2_with_12_channels() -> None:
    relu6 = (-100, 20)
    oc = 26
    assert dw_direct_bytes(_f(13, 2, relu6)) == 39 * oc + 2 * (oc % 4) + 4
    assert dw_direct_bytes(_f(12, 2, (-128, 90))) == 39 * 24 + 4     # a clamp on one side is a clamp
    assert dw_direct_bytes(_f(11, 2, relu6)) == 0                     # few channels: the ring
    assert dw_direct_bytes(_f(16, 2, (-128, 127))) == 0               # no clamp: the ring
    assert dw_direct_bytes(_f(16, 1, relu6)) == 0                     # multiplier 1: the ring
    assert dw_direct_bytes(_f(16, 2, (-128, 127), stride=2)) == 39 * 32 + 4  # stride 2: as before


@pytest.mark.parametrize("act", ["RELU6", "NONE"])
def test_stride1_multiplier2_scratch_by_mode(act: str) -> None:
    spec = ConvSpec(D, 12, 10, 16, 32, 3, 3, activation=act)
    direct = 39 * 32 + 4
    speed, balanced, ram = (_rows_bytes(spec, o) for o in ("speed", "balanced", "ram"))
    if act == "RELU6":
        assert speed >= direct and balanced >= direct
    else:  # the ring's scratch only (less than the direct kernel's records on these 10-wide rows)
        assert balanced < direct
    assert ram == 0
