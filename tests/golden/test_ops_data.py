"""REDUCE_MAX/MIN, SPLIT, SPLIT_V, PACK, UNPACK and GATHER (int8): C vs numpy reference vs TFLite Micro.

Property tests: per case a seeded random shape and random axes / split sizes / indices / batch_dims, one tiny
converted model each (converted once per process). The several outputs of SPLIT, SPLIT_V and UNPACK are put
back together in another order (CONCATENATION / PACK), so each model has one output and every piece counts.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from c_helpers import plan_for
from op_checks import check_m4, check_model, op_types
from tiny_models import convert_int8

from crisp_eml.compiler.arena_check import check_plan
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference


def check_arena(model: bytes) -> None:
    """The memory plan replayed in one flat arena (in-place writes checked) gives the reference's outputs."""
    g = read_tflite(model)
    x = np.random.default_rng(3).integers(-128, 128, g.tensor(g.inputs[0]).shape).astype(np.int8)
    for a, b in zip(check_plan(g, plan_for(g), [x]), run_reference(g, [x]), strict=True):
        assert np.array_equal(a, b)

KINDS = {"reduce": ["REDUCE_MAX", "REDUCE_MIN"], "split": ["SPLIT"], "split_v": ["SPLIT_V"],
         "unpack_pack": ["UNPACK", "PACK"], "gather": ["GATHER"]}
CASES = [(kind, i) for kind in KINDS for i in range(3)]


def _shape(rng: np.random.Generator, lo: int = 2) -> list[int]:
    rank = int(rng.integers(lo, 5))
    return [1, *(int(v) for v in rng.integers(1, 6, rank - 1))]


def _fn(kind: str, rng: np.random.Generator) -> tuple[list[int], Any]:
    """(input shape, tensorflow function of x) for one random configuration."""
    import tensorflow as tf

    shape = _shape(rng, 3 if kind in ("split", "split_v", "unpack_pack") else 2)
    rank = len(shape)
    if kind == "reduce":
        keep = bool(rng.integers(2))
        axes = [a for a in range(1, rank) if rng.random() < 0.6] or [rank - 1]
        if not keep and len(axes) == rank - 1:  # keep a non-batch axis for the concatenation
            keep = len(axes) == 1
            axes = axes if keep else axes[:-1]
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]  # negative axes too
        return shape, lambda x: tf.concat([tf.reduce_max(x, axes, keep), tf.reduce_min(x, axes, keep)], -1)
    axis = int(rng.integers(1, rank))
    if kind == "split":
        n = int(rng.integers(2, 4))
        shape[axis] = n * int(rng.integers(1, 3))
        return shape, lambda x: tf.concat(tf.split(x, n, axis=axis)[::-1], axis)
    if kind == "split_v":
        sizes = [int(v) for v in rng.integers(1, 4, int(rng.integers(2, 4)))]
        shape[axis] = sum(sizes)
        spec = [*sizes[:-1], -1] if rng.random() < 0.5 else sizes
        return shape, lambda x: tf.concat(tf.split(x, spec, axis=axis)[::-1], axis)
    if kind == "unpack_pack":
        shape[axis] = max(shape[axis], 2)
        to = int(rng.integers(1, rank))
        return shape, lambda x: tf.stack(tf.unstack(x, axis=axis)[::-1], axis=to)
    bd = int(rng.integers(2)) if axis >= 1 else 0
    n_idx = int(rng.integers(1, 6))
    idx = rng.integers(0, shape[axis], (1, n_idx) if bd else ((n_idx,) if rank == 4 else (2, n_idx)))
    const = tf.constant(idx.astype(np.int32))
    return shape, lambda x: tf.gather(x, const, axis=axis, batch_dims=bd)


@functools.cache
def data_model(kind: str, i: int) -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(2000 + 10 * list(KINDS).index(kind) + i)
    shape, body = _fn(kind, rng)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def fn(x: Any) -> Any:
        return body(x)

    return convert_int8(fn, [tuple(shape)], seed=i)


@pytest.mark.parametrize(("kind", "i"), CASES)
def test_data_ops_bit_exact(kind: str, i: int, tmp_path: Path) -> None:
    model = data_model(kind, i)
    types = op_types(model)
    assert all(t in types for t in KINDS[kind]), types
    want = check_model(model, tmp_path, f"data_{kind}_{i}", seed=i)
    check_arena(model)
    assert len({bytes(r) for r in want}) > 1


def test_reduce_on_saturated_inputs(tmp_path: Path) -> None:
    """All-127 / all--128 inputs: the C reductions' starting values never leak into the result."""
    from c_helpers import compile_to, io_sizes

    from crisp_eml.compiler import build
    from crisp_eml.compiler.verify import tflm_outputs

    for i in range(3):
        model = data_model("reduce", i)
        g, _ = compile_to(model, tmp_path / f"lib{i}", f"red{i}")
        n_in, n_out = io_sizes(g)
        vec = np.stack([np.full(n_in, 127), np.full(n_in, -128), np.resize([127, -128], n_in)]).astype(np.int8)
        exe = build.host_build(tmp_path / f"lib{i}", tmp_path / f"b{i}")
        got, _ = build.host_run(exe, vec, n_out)
        assert np.array_equal(got, tflm_outputs(model, vec)), i


@pytest.mark.cross
def test_data_ops_on_cortex_m4(tmp_path: Path) -> None:
    for kind in KINDS:
        check_m4(data_model(kind, 0), tmp_path / kind, f"data_{kind}")
