"""HARD_SWISH, LEAKY_RELU and PRELU (int8): generated C vs numpy reference vs TFLite Micro, byte for byte.

Property tests: per op a few seeded random shapes and parameters (input ranges, LEAKY_RELU alpha, PRELU alpha
values and shared axes), one tiny converted model each (converted once per process). HARD_SWISH and
LEAKY_RELU become a 256-entry table of the reference in C, so the reference is also checked against TFLite
Micro on every one of the 256 input codes.
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
from crisp_eml.compiler.verify import tflm_outputs


def check_arena(model: bytes) -> None:
    """The memory plan replayed in one flat arena (in-place writes checked) gives the reference's outputs."""
    g = read_tflite(model)
    x = np.random.default_rng(3).integers(-128, 128, g.tensor(g.inputs[0]).shape).astype(np.int8)
    for a, b in zip(check_plan(g, plan_for(g), [x]), run_reference(g, [x]), strict=True):
        assert np.array_equal(a, b)

OPS = ("HARD_SWISH", "LEAKY_RELU", "PRELU")
CASES = [(op, i) for op in OPS for i in range(3)]


def _rng(op: str, i: int) -> np.random.Generator:
    return np.random.default_rng(1000 + 10 * OPS.index(op) + i)


def _shape(rng: np.random.Generator) -> tuple[int, ...]:
    rank = int(rng.integers(2, 5))
    return (1, *(int(v) for v in rng.integers(1, 7, rank - 1)))


@functools.cache
def act_model(op: str, i: int) -> bytes:
    import tensorflow as tf
    from tensorflow import keras

    rng = _rng(op, i)
    shape = _shape(rng)
    if op == "PRELU" and len(shape) < 3:
        shape = (*shape, int(rng.integers(2, 5)))
    span = float(rng.uniform(1.0, 8.0))  # input range: HARD_SWISH's knees at -3 and 3 inside or outside it
    rep = rng.uniform(-span, span * float(rng.uniform(0.3, 1.5)), (16, *shape)).astype(np.float32)
    model: Any
    if op == "HARD_SWISH":
        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def hs(x: Any) -> Any:
            return x * tf.nn.relu6(x + 3.0) / 6.0
        model = hs
    elif op == "LEAKY_RELU":
        alpha = float(rng.choice([rng.uniform(0.01, 0.5), rng.uniform(1.2, 3.0), rng.uniform(-0.8, -0.1)]))

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def lr(x: Any) -> Any:
            return tf.nn.leaky_relu(x, alpha)
        model = lr
    else:
        axes = [a for a in range(1, len(shape)) if rng.random() < 0.5]
        x = keras.Input(shape[1:], batch_size=1)
        init = keras.initializers.RandomUniform(-0.6, 1.8, seed=int(rng.integers(1 << 20)))
        model = keras.Model(x, keras.layers.PReLU(alpha_initializer=init, shared_axes=axes or None)(x))
    return convert_int8(model, [shape], representative=rep)


@pytest.mark.parametrize(("op", "i"), CASES)
def test_act_bit_exact(op: str, i: int, tmp_path: Path) -> None:
    model = act_model(op, i)
    assert op_types(model) == [op]
    want = check_model(model, tmp_path, f"act_{op.lower()}_{i}", seed=i)
    check_arena(model)
    assert len(np.unique(want)) > 3


@pytest.mark.parametrize("op", ["HARD_SWISH", "LEAKY_RELU"])
def test_table_ops_match_tflm_on_every_code(op: str) -> None:
    """The C looks the reference's 256 outputs up: the reference must equal TFLM on every int8 code."""
    for i in range(3):
        model = act_model(op, i)
        g = read_tflite(model)
        t = g.tensor(g.inputs[0])
        n = int(np.prod(t.shape))
        codes = np.arange(-128, 128, dtype=np.int8)
        vec = np.stack([np.resize(np.roll(codes, k * n), n) for k in range(-(-256 // n))])
        want = tflm_outputs(model, vec)
        ref = np.stack([run_reference(g, [v.reshape(t.shape)])[0].reshape(-1) for v in vec])
        assert np.array_equal(ref, want), (op, i, int((ref != want).sum()))


@pytest.mark.cross
def test_act_on_cortex_m4(tmp_path: Path) -> None:
    for op in OPS:
        check_m4(act_model(op, 0), tmp_path / op, f"act_{op.lower()}")
