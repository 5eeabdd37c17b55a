"""Shared machinery of the single-op convolution golden tests (test_c_kernels_m4, test_c_conv_tiny,
test_c_dw_tiny, test_c_dw_mult2, test_c_dw_ring_clamp): render one ``conv_graph`` as a C library, its numpy
reference outputs and input vectors, and the three byte-for-byte checks (host build, ASan/UBSan build, QEMU
Cortex-M4) over a list of cases. Kept in one place so that the five files differ only in their specs and their
own specific tests. Not collected by pytest (no ``test_`` prefix); imported as ``from conv_golden import ...``
like ``dsp_c_helpers``.

A case's ``seed`` seeds the graph's random weights and quantization, its ``vec_seed`` the input vectors; each file
keeps its own seeds (list positions, or positions plus an offset), so the cases and their data are unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from crisp_eml.compiler import build
from crisp_eml.compiler.build import write_tree
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4
from crisp_eml.core.graph import Graph


class Case(NamedTuple):
    """One single-op graph under test: its spec, graph seed, input-vector seed and (optionally) the kernel the
    rendered library must call."""

    spec: ConvSpec
    seed: int
    vec_seed: int
    kernel: str | None = None


def cases_of(specs: Sequence[ConvSpec], seed0: int = 0, kernel: str | None = None) -> list[Case]:
    """The cases of a spec list: graph seed ``seed0 + i``, vector seed ``i`` (``i`` the list position)."""
    return [Case(spec, seed0 + i, i, kernel) for i, spec in enumerate(specs)]


def render_spec(
    spec: ConvSpec, seed: int, out: Path, *, name: str = "k", optimize: str = "balanced", kernel: str | None = None
) -> Graph:
    """Render ``conv_graph(spec, seed)`` as the library ``name`` into ``out``; with ``kernel``, first assert that
    the rendered source calls it (the kernel under test is the one the lowering chose)."""
    g = conv_graph(spec, seed=seed)
    files = render_library(g, plan_memory(g), RenderOptions(name=name, optimize=optimize))
    if kernel is not None:
        assert f"{kernel}(" in files[f"src/{name}.c"], spec.label()
    write_tree(files, out)
    return g


def reference(g: Graph, vec: np.ndarray) -> np.ndarray:
    """The numpy reference outputs of a batch of flat input vectors, one flat row each."""
    shape = g.tensor(g.inputs[0]).shape
    return np.stack([run_reference(g, [v.reshape(shape)])[0].reshape(-1) for v in vec])


def vectors(g: Graph, n: int, seed: int) -> np.ndarray:
    """``n`` seeded random input vectors of the graph's input size."""
    return random_vectors(int(np.prod(g.tensor(g.inputs[0]).shape)), n, seed=seed)


def _out_size(g: Graph) -> int:
    return int(np.prod(g.tensor(g.outputs[0]).shape))


def check_host(
    cases: Sequence[Case], tmp: Path, *, defines: tuple[str, ...] = (), optimize: str = "balanced", n: int = 3
) -> None:
    """Each case built for the host (``defines`` added) on ``n`` vectors: outputs equal to the reference."""
    for i, c in enumerate(cases):
        g = render_spec(c.spec, c.seed, tmp / f"lib{i}", optimize=optimize, kernel=c.kernel)
        vec = vectors(g, n, seed=c.vec_seed)
        exe = build.host_build(tmp / f"lib{i}", tmp / f"b{i}", defines=defines)
        got, _ = build.host_run(exe, vec, _out_size(g))
        assert np.array_equal(got, reference(g, vec)), c.spec.label()


def check_sanitized(cases: Sequence[Case], tmp: Path, *, optimize: str = "balanced", n: int = 2) -> None:
    """Each case built with ASan/UBSan at -O1 on ``n`` vectors: outputs equal to the reference."""
    for i, c in enumerate(cases):
        g = render_spec(c.spec, c.seed, tmp / f"lib{i}", optimize=optimize, kernel=c.kernel)
        vec = vectors(g, n, seed=c.vec_seed)
        exe = build.host_build(tmp / f"lib{i}", tmp / f"b{i}", sanitize=True, opt="-O1")
        got, _ = build.host_run(exe, vec, _out_size(g))
        assert np.array_equal(got, reference(g, vec)), c.spec.label()


def check_cortex_m4(
    cases: Sequence[Case], tmp: Path, *, optimize: str = "balanced", n: int = 3, tag: str = ""
) -> None:
    """Each case on QEMU Cortex-M4 on ``n`` vectors: outputs equal to the reference (``tag`` appended to the
    failure message)."""
    for i, c in enumerate(cases):
        g = render_spec(c.spec, c.seed, tmp / f"lib{i}", optimize=optimize, kernel=c.kernel)
        vec = vectors(g, n, seed=c.vec_seed)
        res = run_cortex_m4(tmp / f"lib{i}", vec, tmp / f"m4-{i}")
        assert np.array_equal(res["outputs"], reference(g, vec)), f"{c.spec.label()}{tag}"
