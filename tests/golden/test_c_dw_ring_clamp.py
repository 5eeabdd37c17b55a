"""The Cortex-M depthwise 3x3 ring (eml_dwp_s8) on clamped layers (RELU / RELU6): its row functions requantize
with the folded form (eml_rq_fold) and clamp 2 or 4 outputs at once in byte lanes (mode 4). C byte-identical to
the numpy reference on QEMU Cortex-M4 under each --optimize mode (ram / balanced / speed pick the 3-row ring, the
4-row ring of two output rows a pass, the per-channel records or the direct kernels), and on the host (SSE2 or
NEON, portable EML_NO_SIMD, ASan/UBSan). The shared helpers and checks are in
tests/golden/conv_golden.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conv_golden import cases_of, check_cortex_m4, check_host, check_sanitized, reference, vectors

from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph

D = "DEPTHWISE_CONV_2D"
SEED0 = 1700  # seeds apart from the other golden files'
SPECS = [
    ConvSpec(D, 9, 11, 5, 5, 3, 3, activation="RELU6"),                     # s1: 2 rows a pass, odd width
    ConvSpec(D, 8, 10, 3, 6, 3, 3, activation="RELU"),                      # s1 multiplier 2
    ConvSpec(D, 7, 9, 7, 7, 3, 3, padding="VALID", activation="RELU6"),     # s1 valid, odd out rows: 1-row pass
    ConvSpec(D, 10, 9, 4, 4, 3, 3, stride=2, activation="RELU6"),           # s2: output pairs, odd width
    ConvSpec(D, 9, 12, 3, 6, 3, 3, stride=2, activation="RELU"),            # s2 multiplier 2
    ConvSpec(D, 11, 12, 6, 6, 3, 3, dilation=2, activation="RELU"),         # dilation 2 s1: the split rows
    ConvSpec(D, 10, 7, 2, 4, 3, 3, dilation=2, activation="RELU6"),         # dilation 2 s1 multiplier 2, odd
    ConvSpec(D, 6, 3, 9, 9, 3, 3, activation="RELU"),                       # narrow: width 3
    ConvSpec(D, 5, 1, 12, 12, 3, 3, activation="RELU6"),                    # width 1: no pair at all
]
MODES = ["ram", "balanced", "speed"]


def test_ring_clamp_graphs_are_clamped() -> None:
    """Every spec's outputs reach its clamp bound and still spread over many int8 values."""
    for i, spec in enumerate(SPECS):
        g = conv_graph(spec, seed=SEED0 + i)
        out = reference(g, vectors(g, 2, seed=i))
        assert np.unique(out).size > min(12, out.size // 3), spec.label()
        zp = int(g.tensor(g.outputs[0]).zero_point[0])
        assert int(out.min()) == zp, spec.label()  # RELU / RELU6: the lower bound is the zero point


@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_ring_clamp_on_host(defines: tuple[str, ...], tmp_path: Path) -> None:
    check_host(cases_of(SPECS, SEED0), tmp_path, defines=defines, optimize="balanced")


def test_ring_clamp_under_sanitizers(tmp_path: Path) -> None:
    check_sanitized(cases_of(SPECS, SEED0), tmp_path, optimize="ram")


@pytest.mark.cross
@pytest.mark.parametrize("optimize", MODES)
def test_ring_clamp_on_cortex_m4(optimize: str, tmp_path: Path) -> None:
    check_cortex_m4(cases_of(SPECS, SEED0), tmp_path, optimize=optimize, tag=f" {optimize}")
