"""Depthwise convolution with depth multiplier 2: C byte-identical to the numpy reference on QEMU Cortex-M4 (the
DSP direct kernels eml_dwn_s8 / eml_dwk_s8 and their multiplier-2 run functions: tap pairs by PKHBT + SMLAD or
LDRH + SXTB16, output pairs clamped in byte lanes) and on the host (SSE2 or NEON build, the portable EML_NO_SIMD
build, ASan/UBSan), over odd channel counts, strides 1-3, SAME / VALID, 3x3 and 5x5 windows, clamped activations
and narrow widths. The shared helpers and checks are in tests/golden/conv_golden.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conv_golden import cases_of, check_cortex_m4, check_host, check_sanitized, reference, vectors

from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph, macs

D = "DEPTHWISE_CONV_2D"
SEED0 = 1500  # seeds apart from test_c_kernels_m4's list positions
SPECS = [
    ConvSpec(D, 9, 9, 1, 2, 3, 3, stride=2),                          # 3x3 s2: one input channel
    ConvSpec(D, 8, 11, 3, 6, 3, 3, stride=2, activation="RELU"),      # C % 4 == 3, clamped, pad right only
    ConvSpec(D, 9, 7, 6, 12, 3, 3, stride=2, activation="RELU6"),     # C % 4 == 2, pad all round
    ConvSpec(D, 10, 7, 25, 50, 3, 3, stride=2, padding="VALID", activation="RELU6"),  # odd, no border
    ConvSpec(D, 5, 5, 13, 26, 3, 3, stride=2, padding="VALID"),       # 2x2 output pixels
    ConvSpec(D, 5, 2, 9, 18, 3, 3, stride=2, activation="RELU"),      # width 2: every window a patch
    ConvSpec(D, 6, 1, 4, 8, 3, 3, stride=2, activation="RELU6"),      # width 1
    ConvSpec(D, 10, 13, 5, 10, 3, 3, stride=3),                       # stride 3
    ConvSpec(D, 11, 9, 17, 34, 3, 3, stride=3, padding="VALID", activation="RELU"),  # stride 3, valid
    ConvSpec(D, 9, 9, 4, 8, 5, 5, stride=2),                          # 5x5 s2, 2 groups
    ConvSpec(D, 10, 7, 5, 10, 5, 5, stride=2, activation="RELU6"),    # 5x5 s2, odd (tail channel), clamped
    ConvSpec(D, 7, 8, 3, 6, 5, 5, activation="RELU"),                 # 5x5 s1, odd, clamped
    ConvSpec(D, 9, 6, 7, 14, 5, 5, padding="VALID"),                  # 5x5 s1 valid, odd
    ConvSpec(D, 8, 9, 5, 10, 5, 5, stride=3, activation="RELU"),      # 5x5 s3
    ConvSpec(D, 7, 5, 2, 4, 3, 3),                                    # 3x3 s1 ring: 2 input channels
    ConvSpec(D, 6, 7, 7, 14, 3, 3, activation="RELU6"),               # 3x3 s1 ring: odd, clamped
    ConvSpec(D, 5, 4, 11, 22, 3, 3, padding="VALID", activation="RELU"),  # 3x3 s1 valid, narrow
    ConvSpec(D, 7, 6, 13, 26, 3, 3, activation="RELU6"),              # 3x3 s1 direct (clamped, >= 12): C % 4 == 1
    ConvSpec(D, 5, 9, 12, 24, 3, 3, padding="VALID", activation="RELU"),  # 3x3 s1 direct, valid
    ConvSpec(D, 3, 2, 15, 30, 3, 3, activation="RELU"),               # 3x3 s1 direct: every window a patch
    ConvSpec(D, 6, 5, 14, 28, 3, 3),                                  # 3x3 s1 unclamped: the ring
    ConvSpec(D, 5, 5, 48, 96, 3, 3, stride=2, padding="VALID", activation="RELU6"),  # records by LDRD / STRD
    ConvSpec(D, 7, 7, 3, 6, 3, 3, activation="RELU"),                 # 3x3 s1 ring, clamped (byte lanes)
]


def test_mult2_graphs_are_nontrivial() -> None:
    """Every spec is a multiplier-2 depthwise op whose outputs spread over many int8 values."""
    for i, spec in enumerate(SPECS):
        assert spec.out_c == 2 * spec.in_c and macs(spec) > 0
        g = conv_graph(spec, seed=SEED0 + i)
        out = reference(g, vectors(g, 2, seed=i))
        assert np.unique(out).size > min(12, out.size // 3), spec.label()


@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_mult2_on_host(defines: tuple[str, ...], tmp_path: Path) -> None:
    check_host(cases_of(SPECS, SEED0), tmp_path, defines=defines)


def test_mult2_under_sanitizers(tmp_path: Path) -> None:
    check_sanitized(cases_of(SPECS, SEED0), tmp_path)


@pytest.mark.cross
def test_mult2_on_cortex_m4(tmp_path: Path) -> None:
    check_cortex_m4(cases_of(SPECS, SEED0), tmp_path)
