"""Depthwise layers that cannot take the fast requantization, on the Cortex-M4 DSP kernel and the host.

``eml_mbqm_fast`` is only used when the renderer proves every accumulator stays below 2^30
(``lower.rq_fast_ok``); a large bias breaks that proof, and the kernels fall back to TFLite Micro's general
MultiplyByQuantizedMultiplier. The random synthetic specs elsewhere never get there. Here one bias of each layer
is 2^30, for each tap shape of the Cortex-M depthwise kernel (stride 1 with two output rows, stride 2,
dilation 2, dilation 3, multiplier 2, odd channels), and the outputs must equal the numpy reference
(byte-exact with TFLite Micro) on QEMU Cortex-M4 and on the host (SIMD and portable).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crisp_eml.compiler import build
from crisp_eml.compiler.build import write_tree
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4
from crisp_eml.core.graph import Graph

D = "DEPTHWISE_CONV_2D"
SPECS = [
    ConvSpec(D, 9, 7, 8, 8, 3, 3),                                   # stride 1: two output rows a pass
    ConvSpec(D, 10, 9, 8, 8, 3, 3, stride=2, activation="RELU"),     # stride 2
    ConvSpec(D, 9, 8, 4, 4, 3, 3, dilation=2),                       # dilation 2
    ConvSpec(D, 11, 10, 4, 4, 3, 3, dilation=3, activation="RELU6"),  # dilation 3: byte taps
    ConvSpec(D, 7, 6, 5, 10, 3, 3),                                  # multiplier 2, odd channels
]


def _graph(i: int) -> Graph:
    g = conv_graph(SPECS[i], seed=100 + i)
    b = g.tensor(g.ops[0].inputs[2])
    assert b.data is not None
    b.data = b.data.copy()
    b.data[0] = 1 << 30  # accumulators may pass 2^30: no fast requantization
    return g


def _want(g: Graph, vec: np.ndarray) -> np.ndarray:
    shape = g.tensor(g.inputs[0]).shape
    return np.stack([run_reference(g, [v.reshape(shape)])[0].reshape(-1) for v in vec])


def _library(i: int, out: Path) -> tuple[Graph, np.ndarray]:
    g = _graph(i)
    files = render_library(g, plan_memory(g), RenderOptions(name="k"))
    assert ".rq_fast = 0" in files["src/k.c"], SPECS[i].label()
    write_tree(files, out)
    return g, random_vectors(int(np.prod(g.tensor(g.inputs[0]).shape)), 3, seed=i)


def test_specs_are_nontrivial() -> None:
    """Outputs spread over many int8 values besides the saturated big-bias channel."""
    for i in range(len(SPECS)):
        g = _graph(i)
        out = _want(g, random_vectors(int(np.prod(g.tensor(g.inputs[0]).shape)), 2, seed=i))
        assert np.unique(out).size > 30, SPECS[i].label()


def test_exact_requantization_on_cortex_m4(tmp_path: Path) -> None:
    for i in range(len(SPECS)):
        g, vec = _library(i, tmp_path / f"lib{i}")
        res = run_cortex_m4(tmp_path / f"lib{i}", vec, tmp_path / f"m4_{i}")
        assert np.array_equal(res["outputs"], _want(g, vec)), SPECS[i].label()


@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_exact_requantization_on_host(defines: tuple[str, ...], tmp_path: Path) -> None:
    for i in range(len(SPECS)):
        g, vec = _library(i, tmp_path / f"lib{i}")
        exe = build.host_build(tmp_path / f"lib{i}", tmp_path / f"b{i}", defines=defines)
        got, _ = build.host_run(exe, vec, int(np.prod(g.tensor(g.outputs[0]).shape)))
        assert np.array_equal(got, _want(g, vec)), SPECS[i].label()
