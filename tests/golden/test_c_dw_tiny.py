"""The Cortex-M DSP depthwise kernels of tiny layers: ``eml_dwt_s8`` (section dwt, ``lower.dw_tiny``: 3x3 of 1-3
channels at stride >= 2; bands of windows sharing one set of taps, borders read inside the image with zero weights,
chunks through a stack buffer) and ``eml_dwf_s8`` (section dwf, ``lower.dw_few``: 1-2 output pixels of windows of
25+ taps, no padding; the int8 weights read in place): byte-identical to the numpy reference on QEMU Cortex-M4
and on the host builds (SSE2 or NEON, portable EML_NO_SIMD, ASan/UBSan), which run the element loop of
``eml_dwconv2d_s8`` for the same layers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conv_golden import Case, check_cortex_m4, check_host, check_sanitized, reference, vectors

from crisp_eml.compiler.c.lower import dw_few, dw_tiny
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph

D = "DEPTHWISE_CONV_2D"
SPECS = [
    ConvSpec(D, 14, 14, 1, 1, 3, 3, stride=2, activation="RELU"),      # 1 channel, right / bottom border
    ConvSpec(D, 7, 23, 3, 3, 3, 3, stride=2, activation="RELU"),       # 3 channels, border on every side
    ConvSpec(D, 11, 10, 2, 2, 3, 3, stride=2, padding="VALID"),        # 2 channels, no border
    ConvSpec(D, 12, 9, 3, 3, 3, 3, stride=2, activation="RELU6"),      # clamped, odd width
    ConvSpec(D, 16, 3, 2, 2, 3, 3, stride=2),                          # width 3: one input window a row
    ConvSpec(D, 20, 4, 1, 1, 3, 3, stride=2, activation="RELU6"),      # width 4: 2 columns, both off a side
    ConvSpec(D, 13, 21, 1, 1, 3, 3, stride=3),                         # stride 3 (pad 1 left, 0 right)
    ConvSpec(D, 10, 44, 3, 3, 3, 3, stride=2),                         # rows of 66 bytes: chunks of one row
    ConvSpec(D, 9, 200, 1, 1, 3, 3, stride=2, padding="VALID"),        # rows of 99 bytes
    ConvSpec(D, 6, 600, 2, 2, 3, 3, stride=2, activation="RELU"),      # rows over the buffer: chunks of pixels
]


FEW = [
    ConvSpec(D, 7, 5, 31, 31, 5, 5, stride=2, padding="VALID", activation="RELU6"),  # 2 pixels, 3 channels over 4k
    ConvSpec(D, 5, 5, 16, 16, 5, 5, padding="VALID"),                  # 1 pixel
    ConvSpec(D, 8, 8, 12, 12, 7, 7, stride=2, padding="VALID"),        # 7x7: a tap an iteration
    ConvSpec(D, 6, 5, 9, 9, 5, 5, padding="VALID"),                    # 2 pixels down, 9 channels
    ConvSpec(D, 9, 5, 8, 8, 5, 5, stride=3, padding="VALID"),          # stride 3
    ConvSpec(D, 5, 8, 10, 10, 5, 7, padding="VALID"),                  # 5x7, 2 pixels across
    ConvSpec(D, 5, 6, 12, 12, 5, 5, padding="VALID", activation="RELU"),  # clamped word stores, no tail
    ConvSpec(D, 7, 8, 13, 13, 7, 7, padding="VALID", activation="RELU"),  # clamped, 7x7, tail of 1 channel
    ConvSpec(D, 7, 5, 22, 22, 5, 5, stride=2, padding="VALID"),        # 2 pixels down, tail of 2, unclamped
]
CASES = [(s, "eml_dwt_s8") for s in SPECS] + [(s, "eml_dwf_s8") for s in FEW]
# graph and vector seed: the position in CASES; each library must call its kernel (the one under test is chosen)
LIB_CASES = [Case(spec, i, i, kernel) for i, (spec, kernel) in enumerate(CASES)]


def test_specs_are_nontrivial() -> None:
    for i, (spec, _) in enumerate(CASES):
        g = conv_graph(spec, seed=i)
        out = reference(g, vectors(g, 2, seed=i))
        assert np.unique(out).size > min(10, out.size // 2), spec.label()


def _f(**kw: int) -> dict[str, int | list[int]]:
    f: dict[str, int | list[int]] = dict(in_h=8, in_w=8, in_c=2, out_h=4, out_w=4, out_c=2, depth_mul=1, k_h=3,
                                         k_w=3, stride_h=2, stride_w=2, dil_h=1, dil_w=1, pad_h=0, pad_w=0, rq_fast=1)
    f.update(kw)
    return f


def test_dw_tiny_choice() -> None:
    """3x3, 1-3 channels, multiplier 1, stride >= 2, dilation 1, at least 16 output pixels, fast requantization:
    the kernel; otherwise not."""
    assert dw_tiny(_f())
    assert dw_tiny(_f(in_c=3, out_c=3, stride_h=3, stride_w=3))
    assert not dw_tiny(_f(in_c=4, out_c=4))
    assert not dw_tiny(_f(stride_w=1, stride_h=1))
    assert not dw_tiny(_f(depth_mul=2, out_c=4))
    assert not dw_tiny(_f(rq_fast=0))
    assert not dw_tiny(_f(k_h=5, k_w=5))
    assert not dw_tiny(_f(dil_h=2, dil_w=2))
    assert not dw_tiny(_f(in_w=2, out_w=1, out_h=16))
    assert not dw_tiny(_f(out_h=3, out_w=5))  # 15 pixels: the fixed cost


def test_dw_few_choice() -> None:
    """Multiplier 1, 8+ channels, windows of 25+ taps, no padding, 1-2 output pixels: the kernel; otherwise not."""
    f = _f(in_h=7, in_w=5, in_c=31, out_c=31, out_h=2, out_w=1, k_h=5, k_w=5)
    assert dw_few(f)
    assert dw_few({**f, "k_h": 7, "k_w": 4, "in_h": 9, "stride_h": 1, "out_h": 2})
    assert not dw_few({**f, "out_h": 3, "in_h": 9})  # 3 pixels
    assert not dw_few({**f, "pad_h": 1})
    assert not dw_few({**f, "k_h": 3, "k_w": 3})
    assert not dw_few({**f, "in_c": 7, "out_c": 7})
    assert not dw_few({**f, "depth_mul": 2, "out_c": 62})
    assert not dw_few({**f, "dil_w": 2})
    assert not dw_few({**f, "in_h": 6})  # the second window would end past the image


@pytest.mark.parametrize("optimize", ["ram", "balanced", "speed"])
@pytest.mark.parametrize("case", [0, len(SPECS)], ids=["dwt", "dwf"])
def test_no_scratch(optimize: str, case: int) -> None:
    """The kernels need no scratch in any mode (the layer's rows pointer is NULL, the plan's scratch 0)."""
    spec, kernel = CASES[case]
    g = conv_graph(spec, seed=0)
    files = render_library(g, plan_memory(g), RenderOptions(name="k", optimize=optimize))
    call = next(line for line in files["src/k.c"].splitlines() if f"{kernel}(" in line)
    assert "NULL" in call
    assert json.loads(files["MANIFEST.json"])["scratch_bytes"] == 0


@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_on_host(defines: tuple[str, ...], tmp_path: Path) -> None:
    check_host(LIB_CASES, tmp_path, defines=defines)


def test_under_sanitizers(tmp_path: Path) -> None:
    check_sanitized(LIB_CASES, tmp_path)


@pytest.mark.cross
def test_on_cortex_m4(tmp_path: Path) -> None:
    check_cortex_m4(LIB_CASES, tmp_path)
