"""The CONV_2D weight layouts of each ``--optimize`` mode, byte for byte on every kernel path.

``balanced`` and ``ram`` store the conv weights as int8 (4 to a word, widened in registers: SXTB16 on the
Cortex-M4, unpack / TBL on SSE2 / NEON); ``speed`` stores them pre-widened to int16 (2 to a word, LDRD pairs on
the M4). Each mode is rendered for geometries that reach every im2col and kernel branch - direct runs (in_c a
multiple of 4), the byte stage (in_c 1, 3, 15; dilated 5), image borders, an odd pixel count, an odd out_c,
more than one block of 16 channels, K % 4 != 0, the clamped requantization - and must equal the numpy reference
(byte-exact with TFLite Micro, tests/golden/test_reference_tflm.py) on the host SIMD build (SSE2 on x86-64), the
portable ``EML_NO_SIMD`` build, ASan/UBSan, aarch64 NEON (qemu-user) and the Cortex-M4 DSP build (QEMU). The
flash each mode stores for the weights is checked from the generated source and MANIFEST.json.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.compiler import build
from crisp_eml.compiler.build import write_tree
from crisp_eml.compiler.optimize import MODES
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4
from crisp_eml.core.graph import Graph

C = "CONV_2D"
SPECS = [
    ConvSpec(C, 5, 5, 16, 6),                                         # 1x1 direct, odd pixel count (K > 12:
                                                                      # K <= 12 takes eml_conv2d_tkN_s8)
    ConvSpec(C, 4, 5, 15, 35, activation="RELU6"),                    # staged (15 ch), odd out_c, 3 blocks, clamped
    ConvSpec(C, 9, 8, 3, 8, 3, 3, stride=2),                          # image stem: staged, borders, K = 27
    ConvSpec(C, 13, 6, 1, 18, 5, 4, stride=2, activation="RELU"),    # KWS-like stem: in_c 1, tall padding
    ConvSpec(C, 7, 6, 8, 5, 3, 3, activation="RELU"),                 # direct 3x3 with borders, odd out_c
    ConvSpec(C, 8, 7, 4, 4, 3, 3, dilation=2),                        # dilated, direct per-tap runs
    ConvSpec(C, 9, 8, 5, 3, 3, 3, dilation=2, padding="VALID"),       # dilated, staged
    ConvSpec(C, 7, 6, 3, 4, 3, 3, dilation=2, activation="RELU"),     # dilated, staged, borders
    ConvSpec(C, 5, 4, 6, 7, 3, 3),                                    # big bias: the exact requantization
]
BIG_BIAS = len(SPECS) - 1


def _graph(spec: ConvSpec, seed: int) -> Graph:
    g = conv_graph(spec, seed=seed)
    if seed == BIG_BIAS:  # one bias of 2^30: accumulators may pass 2^30, so no eml_mbqm_fast (rq_fast 0)
        b = g.tensor(g.ops[0].inputs[2])
        assert b.data is not None
        b.data = b.data.copy()
        b.data[0] = 1 << 30
    return g


def test_specs_are_nontrivial() -> None:
    """Outputs spread over many int8 values (a saturated output would hide bugs); the big-bias spec really takes
    the exact requantization."""
    for i, spec in enumerate(SPECS):
        g = _graph(spec, i)
        out = _want(g, _vectors(g, 2, seed=i))
        assert np.unique(out).size > min(40, out.size // 4), spec.label()
        src = render_library(g, plan_memory(g), RenderOptions(name="k"))["src/k.c"]
        assert (".rq_fast = 0" in src) == (i == BIG_BIAS)


def _render(spec: ConvSpec, seed: int, mode: str, out: Path) -> tuple[Graph, dict[str, str]]:
    g = _graph(spec, seed)
    files = render_library(g, plan_memory(g), RenderOptions(name="k", optimize=mode))
    write_tree(files, out)
    return g, files


def _want(g: Graph, vec: np.ndarray) -> np.ndarray:
    shape = g.tensor(g.inputs[0]).shape
    return np.stack([run_reference(g, [v.reshape(shape)])[0].reshape(-1) for v in vec])


def _vectors(g: Graph, n: int, seed: int) -> np.ndarray:
    return random_vectors(int(np.prod(g.tensor(g.inputs[0]).shape)), n, seed=seed)


def _n_out(g: Graph) -> int:
    return int(np.prod(g.tensor(g.outputs[0]).shape))


def _weight_bytes(src: str) -> int:
    """Bytes of the conv weight array in the generated model source."""
    m = re.search(r"static const int32_t k_l0_w\[(\d+)\]", src)
    assert m is not None
    return 4 * int(m.group(1))


def test_modes_store_int8_or_int16_weights() -> None:
    """balanced / ram: the int8 weights (K padded to 4, out_c to even); speed: twice that; MANIFEST counts it."""
    for i, spec in enumerate(SPECS):
        k = spec.k_h * spec.k_w * spec.in_c
        packed = (-(-k // 4) * 4) * (spec.out_c + spec.out_c % 2)
        got = {}
        for mode in MODES:
            g = _graph(spec, i)
            files = render_library(g, plan_memory(g), RenderOptions(name="k", optimize=mode))
            src, man = files["src/k.c"], json.loads(files["MANIFEST.json"])
            assert man["optimize"] == mode
            assert ("eml_conv2d_w16_s8(" in src) == (mode == "speed"), mode
            got[mode] = (_weight_bytes(src), man["weights_bytes"])
        assert got["balanced"] == got["ram"]
        assert got["balanced"][0] == packed and got["speed"][0] == 2 * packed, spec.label()
        assert got["speed"][1] - got["balanced"][1] == packed  # the manifest counts what is stored


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_conv_layouts_on_host(mode: str, defines: tuple[str, ...], tmp_path: Path) -> None:
    for i, spec in enumerate(SPECS):
        g, _ = _render(spec, i, mode, tmp_path / f"lib{i}")
        vec = _vectors(g, 3, seed=i)
        exe = build.host_build(tmp_path / f"lib{i}", tmp_path / f"b{i}", defines=defines)
        got, _ = build.host_run(exe, vec, _n_out(g))
        assert np.array_equal(got, _want(g, vec)), f"{mode} {spec.label()}"


@pytest.mark.parametrize("mode", ["balanced", "speed"])
@pytest.mark.parametrize("defines", [(), ("EML_NO_SIMD",)], ids=["simd", "portable"])
def test_conv_layouts_under_sanitizers(mode: str, defines: tuple[str, ...], tmp_path: Path) -> None:
    for i, spec in enumerate(SPECS):
        g, _ = _render(spec, i, mode, tmp_path / f"lib{i}")
        vec = _vectors(g, 2, seed=i)
        exe = build.host_build(tmp_path / f"lib{i}", tmp_path / f"b{i}", sanitize=True, opt="-O1", defines=defines)
        got, _ = build.host_run(exe, vec, _n_out(g))
        assert np.array_equal(got, _want(g, vec)), f"{mode} {spec.label()}"


@pytest.mark.parametrize("mode", ["balanced", "speed"])
def test_conv_layouts_on_neon(mode: str, tmp_path: Path) -> None:
    from test_c_neon import cross_build, qemu_run

    if shutil.which("qemu-aarch64") is None:
        pytest.fail("qemu-aarch64 is not installed (Debian package qemu-user)")
    for i, spec in enumerate(SPECS):
        g, _ = _render(spec, i, mode, tmp_path / f"lib{i}")
        vec = _vectors(g, 2, seed=i)
        neon = qemu_run(cross_build(tmp_path / f"lib{i}", tmp_path / f"neon{i}"), vec, _n_out(g))
        assert np.array_equal(neon, _want(g, vec)), f"{mode} {spec.label()}"


@pytest.mark.cross
@pytest.mark.parametrize("mode", MODES)
def test_conv_layouts_on_cortex_m4(mode: str, tmp_path: Path) -> None:
    for i, spec in enumerate(SPECS):
        g, _ = _render(spec, i, mode, tmp_path / f"lib{i}")
        vec = _vectors(g, 2, seed=i)
        res = run_cortex_m4(tmp_path / f"lib{i}", vec, tmp_path / f"m4-{i}")
        assert np.array_equal(res["outputs"], _want(g, vec)), f"{mode} {spec.label()}"
