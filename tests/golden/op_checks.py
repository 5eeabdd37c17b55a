"""Shared check of the op-family golden tests: one tiny model, byte for byte C vs reference vs TFLite Micro.

``check_model`` compiles a model with the real planner and renderer, runs seeded random int8 vectors through
TFLite Micro (the golden), the numpy reference interpreter and the generated C (host ``-O3``, the SSE2 path,
and once more under ASan/UBSan), and returns TFLM's outputs. ``check_m4`` does the same on QEMU Cortex-M4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from c_helpers import compile_to, io_sizes

from crisp_eml.compiler import build
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4, tflm_outputs
from crisp_eml.core.graph import Graph


def op_types(model: bytes) -> list[str]:
    from crisp_eml.compiler.reader import read_tflite

    return [op.type for op in read_tflite(model).ops]


def _reference(g: Graph, vec: np.ndarray) -> np.ndarray:
    shape = g.tensor(g.inputs[0]).shape
    return np.stack([run_reference(g, [v.reshape(shape)])[0].reshape(-1) for v in vec])


def check_model(model: bytes, tmp: Path, name: str, k: int = 6, seed: int = 0, sanitize: bool = True) -> np.ndarray:
    g, _ = compile_to(model, tmp / "lib", name)
    n_in, n_out = io_sizes(g)
    vec = random_vectors(n_in, k, seed=seed)
    want = tflm_outputs(model, vec)
    ref = _reference(g, vec)
    assert np.array_equal(ref, want), f"{name}: reference differs from TFLM in {int((ref != want).sum())} bytes"
    builds = [("-O3", False), ("-O1", True)] if sanitize else [("-O3", False)]
    for opt, asan in builds:
        exe = build.host_build(tmp / "lib", tmp / f"build{opt}{asan}", sanitize=asan, opt=opt)
        got, _ = build.host_run(exe, vec, n_out)
        assert np.array_equal(got, want), f"{name} ({opt}, asan={asan}): {int((got != want).sum())} bytes differ"
    return want


def check_m4(model: bytes, tmp: Path, name: str, k: int = 3) -> None:
    g, _ = compile_to(model, tmp / "lib", name)
    n_in, _ = io_sizes(g)
    vec = random_vectors(n_in, k, seed=21)
    res = run_cortex_m4(tmp / "lib", vec, tmp / "m4")
    assert np.array_equal(res["outputs"], tflm_outputs(model, vec)), name
