"""The numpy reference interpreter is byte-identical to the TFLite Micro interpreter, op by op.

Tiny Keras/TF models (``tiny_models``, converted once per session) cover every supported op; the two
MLPerf Tiny models are checked whole. Also: the reader rejects float-only models and unsupported ops.
"""

from __future__ import annotations

import numpy as np
import pytest
import tiny_models

from conftest import MLPERF_TINY
from crisp_eml.compiler.ops import SUPPORTED_OPS
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph


def _inputs(g: Graph, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for i in g.inputs:
        t = g.tensor(i)
        if t.dtype == "int8":
            out.append(rng.integers(-128, 128, size=t.shape, dtype=np.int8))
        else:
            out.append(rng.uniform(-3, 3, size=t.shape).astype(np.float32))
    return out


def _assert_bit_exact(model: bytes, n: int, seed: int) -> Graph:
    from tflite_micro import runtime

    g = read_tflite(model)
    interp = runtime.Interpreter.from_bytes(model, arena_size=max(200_000, 4 * len(model)))
    rng = np.random.default_rng(seed)
    vectors = [_inputs(g, rng) for _ in range(n)]
    vectors.append([np.full(g.tensor(i).shape, -128, g.tensor(i).dtype) for i in g.inputs])
    vectors.append([np.full(g.tensor(i).shape, 127, g.tensor(i).dtype) for i in g.inputs])
    for v, xs in enumerate(vectors):
        ours = run_reference(g, xs)
        for j, x in enumerate(xs):
            interp.set_input(x, j)
        interp.invoke()
        for j, y in enumerate(ours):
            ref = interp.get_output(j)
            assert y.dtype == ref.dtype and y.shape == tuple(ref.shape)
            assert np.array_equal(y, ref), f"vector {v} output {j}: {np.flatnonzero(y != ref)[:8]} differ"
    return g


@pytest.mark.parametrize("name", ["kws_ref_model", "ad01_int8"])
def test_mlperf_tiny_bit_exact(name: str) -> None:
    _assert_bit_exact((MLPERF_TINY / f"{name}.tflite").read_bytes(), n=8, seed=7)


@pytest.mark.parametrize("name", sorted(tiny_models.BUILDERS))
def test_tiny_models_bit_exact(name: str) -> None:
    _assert_bit_exact(tiny_models.build_all()[name], n=24, seed=11)


def test_every_supported_op_is_covered() -> None:
    seen = {op.type for m in tiny_models.build_all().values() for op in read_tflite(m).ops}
    # SQUEEZE: the converter always emits RESHAPE instead; the reference runs both the same way
    assert SUPPORTED_OPS - seen == {"SQUEEZE"}


def test_float_only_model_is_rejected() -> None:
    import tensorflow as tf
    from tensorflow import keras

    m = keras.Sequential([keras.Input((4,), batch_size=1), keras.layers.Dense(2)])
    data = tf.lite.TFLiteConverter.from_keras_model(m).convert()
    with pytest.raises(InputError, match="float model: operator 0"):
        read_tflite(data, source="float.tflite")


def test_unsupported_op_is_named() -> None:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def fn(x: tf.Tensor) -> tf.Tensor:
        return tf.reverse(x * 2.0, axis=[1])  # REVERSE_V2: no kernel here

    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.normal(size=(1, 8)).astype(np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    data = conv.convert()
    with pytest.raises(InputError, match=r"unsupported op REVERSE_V2 at operator index \d"):
        read_tflite(data, source="reverse.tflite")
