"""int16 activations with int8 weights (TFLite's 16x8 mode, used for audio): C vs reference vs TFLite Micro.

Models are converted with ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8`` (once per process,
``functools.cache``): a small audio-like network (Conv2D / DepthwiseConv2D / pools / Dense / tanh / softmax)
with int16 I/O and with float I/O, three seeded random "op zoo" networks (random shapes, kernels, strides,
dilations, paddings, depth multipliers, fused activations and input ranges; every int16 op the compiler has),
and one-op LOGISTIC / TANH / SOFTMAX models checked on every int16 input code. Each is compared byte for byte:
TFLite Micro (the golden), the numpy reference, the generated C at -O3 and under ASan/UBSan, and once on QEMU
Cortex-M4.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from c_helpers import compile_to

from crisp_eml.compiler import build
from crisp_eml.compiler.c.float_io import strip_float_io
from crisp_eml.compiler.params import op_params
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4, tflm_outputs
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph


def convert_16x8(model: Any, shape: tuple[int, ...], io: str = "int16", span: float = 2.0, seed: int = 0,
                 bias32: bool = False) -> bytes:
    """16x8 conversion with a seeded uniform(-span, span) representative set that reaches +-span exactly (so the
    input scale is span / 32767); ``io``: "int16" or "float"; ``bias32``: int32 biases instead of int64."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def rep() -> Any:
        for _ in range(16):
            x = rng.uniform(-span, span, size=shape).astype(np.float32)
            x.flat[0], x.flat[-1] = span, -span
            yield [x]

    if isinstance(model, tf.types.experimental.PolymorphicFunction):
        conv = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()])
    else:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if io == "int16":
        conv.inference_input_type = tf.int16
        conv.inference_output_type = tf.int16
    if bias32:
        conv._experimental_full_integer_quantization_bias_type = tf.int32
    data: bytes = conv.convert()
    return data


@functools.cache
def audio_model(io: str) -> bytes:
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(3)
    x = keras.Input((16, 10, 1), batch_size=1)  # 16 frames x 10 mel bands
    y = layers.Conv2D(6, 3, strides=(2, 1), padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, padding="valid", activation="relu6")(y)
    y = layers.AveragePooling2D((2, 2), padding="same")(y)
    y = layers.MaxPooling2D((1, 2))(y)
    y = layers.Dense(8, activation="tanh")(layers.Flatten()(y))
    return convert_16x8(keras.Model(x, layers.Softmax()(layers.Dense(4)(y))), (1, 16, 10, 1), io=io)


@functools.cache
def zoo_model(seed: int) -> bytes:
    """Every int16 op with seeded random shapes and parameters."""
    from tensorflow import keras
    from tensorflow.keras import layers

    rng = np.random.default_rng(1600 + seed)
    keras.utils.set_random_seed(seed)
    acts = [None, "relu", "relu6"]
    h, w, c = int(rng.integers(6, 12)), int(rng.integers(6, 12)), int(rng.integers(1, 4))
    x = keras.Input((h, w, c), batch_size=1)
    # standalone RELU and RELU6 on the input (nothing they could fuse into; the input straddles 0 and 6)
    x1 = layers.Add()([layers.ReLU()(x), layers.ReLU(max_value=6.0)(x)])
    f, dm = int(rng.integers(2, 7)), int(rng.integers(1, 3))
    bias = keras.initializers.RandomNormal(stddev=0.3, seed=seed)  # a zero bias would be dropped by the converter
    a = layers.Conv2D(f, int(rng.integers(1, 4)), strides=int(rng.integers(1, 3)),
                      padding=rng.choice(["same", "valid"]),
                      activation=acts[int(rng.integers(3))], bias_initializer=bias)(x1)
    d = layers.DepthwiseConv2D(3, depth_multiplier=dm, padding="same", dilation_rate=int(rng.integers(1, 3)),
                               activation=acts[int(rng.integers(3))])(a)
    r = layers.Conv2D(f * dm, 1, use_bias=bool(rng.integers(2)))(a)
    s = layers.Add()([d, r])
    t = layers.Subtract()([s, r])
    m = layers.ReLU()(layers.Multiply()([t, d]))
    m = layers.ReLU(max_value=6.0)(layers.Add()([m, s]))
    p = layers.AveragePooling2D(2, strides=1, padding=rng.choice(["same", "valid"]))(m)
    p = layers.MaxPooling2D(2, padding="same")(p)
    g = layers.GlobalAveragePooling2D()(p)
    u = layers.Dense(int(rng.integers(3, 9)), bias_initializer=bias)(g)
    v = layers.Add()([layers.Activation("sigmoid")(u), layers.Activation("tanh")(u)])
    v = layers.Reshape((-1,))(v)
    out = layers.Softmax()(layers.Dense(int(rng.integers(2, 6)), bias_initializer=bias)(v))
    span = float(rng.uniform(0.5, 9.0))
    return convert_16x8(keras.Model(x, out), (1, h, w, c), span=span, seed=seed)


@functools.cache
def bias32_model() -> bytes:
    """Conv2D + Dense converted with int32 biases: TFLM's int32-accumulator 16x8 path."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(11)
    bias = keras.initializers.RandomNormal(stddev=0.5, seed=11)
    x = keras.Input((7, 6, 2), batch_size=1)
    y = layers.Conv2D(5, 3, padding="same", activation="relu", bias_initializer=bias)(x)
    y = layers.Dense(6, bias_initializer=bias)(layers.Flatten()(y))
    return convert_16x8(keras.Model(x, layers.Dense(3, bias_initializer=bias)(y)), (1, 7, 6, 2), span=3.0, bias32=True)


@functools.cache
def one_op_model(op: str, span: float) -> bytes:
    """A single LOGISTIC, TANH or SOFTMAX op over (1, 256, 256): one vector holds every int16 code."""
    import tensorflow as tf

    fn = {"LOGISTIC": tf.math.sigmoid, "TANH": tf.math.tanh, "SOFTMAX": tf.nn.softmax}[op]

    @tf.function(input_signature=[tf.TensorSpec((1, 256, 256), tf.float32)])
    def model(x: Any) -> Any:
        return fn(x)

    return convert_16x8(model, (1, 256, 256), span=span)


def _graph(model: bytes) -> Graph:
    return strip_float_io(read_tflite(model))


def _nbytes(g: Graph, ti: int) -> int:
    t = g.tensor(ti)
    return int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize


def _reference(g: Graph, vec: np.ndarray) -> np.ndarray:
    t = g.tensor(g.inputs[0])
    rows = [run_reference(g, [np.frombuffer(v.tobytes(), t.dtype).reshape(t.shape)])[0] for v in vec]
    return np.stack([np.ascontiguousarray(r).reshape(-1).view(np.int8) for r in rows])


def check(model: bytes, tmp: Path, name: str, vec: np.ndarray | None = None, sanitize: bool = True) -> np.ndarray:
    """C (-O3; -O1 ASan/UBSan) vs reference vs TFLM on packed int16 vectors; returns TFLM's output bytes."""
    g, _ = compile_to(model, tmp / "lib", name)
    if vec is None:
        vec = random_vectors(_nbytes(g, g.inputs[0]), 6, seed=len(name))
    want = tflm_outputs(model, vec)
    ref = _reference(g, vec)
    assert np.array_equal(ref, want), f"{name}: reference differs from TFLM in {int((ref != want).sum())} bytes"
    for opt, asan in [("-O3", False), ("-O1", True)][: 2 if sanitize else 1]:
        exe = build.host_build(tmp / "lib", tmp / f"b{opt}{asan}", sanitize=asan, opt=opt)
        got, _ = build.host_run(exe, vec, _nbytes(g, g.outputs[0]))
        assert np.array_equal(got, want), f"{name} ({opt}, asan={asan}): {int((got != want).sum())} bytes differ"
    return want


def test_audio_model_int16_io(tmp_path: Path) -> None:
    model = audio_model("int16")
    g = _graph(model)
    assert g.tensor(g.inputs[0]).dtype == "int16" and g.tensor(g.outputs[0]).dtype == "int16"
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "TANH",
            "SOFTMAX"} <= {op.type for op in g.ops}
    want = check(model, tmp_path, "audio16")
    assert len(np.unique(want.view(np.int16))) > 4  # a live network, not a constant output


def test_audio_model_float_io(tmp_path: Path) -> None:
    model = audio_model("float")
    raw = read_tflite(model)
    assert raw.tensor(raw.inputs[0]).dtype == "float32" and raw.ops[0].type == "QUANTIZE"
    g = _graph(model)
    assert g.tensor(g.inputs[0]).dtype == "int16"
    check(model, tmp_path, "audio16f")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_op_zoo_random(tmp_path: Path, seed: int) -> None:
    model = zoo_model(seed)
    types = {op.type for op in _graph(model).ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN",
            "FULLY_CONNECTED", "LOGISTIC", "TANH", "SOFTMAX", "RELU", "RELU6", "RESHAPE"} <= types, types
    check(model, tmp_path, f"zoo{seed}", sanitize=seed == 0)


def test_int32_bias_path(tmp_path: Path) -> None:
    g = _graph(bias32_model())
    ops = [op for op in g.ops if op.type in ("CONV_2D", "FULLY_CONNECTED")]
    biased = [op for op in ops if len(op.inputs) > 2 and op.inputs[2] >= 0]
    assert biased and all(g.tensor(op.inputs[2]).dtype == "int32" for op in biased)
    assert len(biased) < len(ops)  # one without bias: quantized_bias_type INT32 selects the same path
    assert not any(op_params(g, op)["acc64"] for op in ops)
    check(bias32_model(), tmp_path, "bias32")


def test_depthwise_int32_bias_refused() -> None:
    """TFLM's int16 depthwise reads its bias as int64: an int32 one is refused, naming the op."""
    g = _graph(audio_model("int16"))
    dw = next(op for op in g.ops if op.type == "DEPTHWISE_CONV_2D")
    b = g.tensor(dw.inputs[2])
    g.tensors[dw.inputs[2]] = replace(b, dtype="int32", data=np.asarray(b.data, np.int32))
    with pytest.raises(InputError, match="DEPTHWISE_CONV_2D.*int32 bias"):
        op_params(g, dw)


# 32767 / 4096 and 32767 / 2048: input scales 2^-12 and 2^-11, TFLM's power-of-two paths (3 << shift)
@pytest.mark.parametrize(("op", "span"), [("LOGISTIC", 1.0), ("LOGISTIC", 32767 / 4096), ("TANH", 0.9),
                                          ("TANH", 32767 / 4096), ("TANH", 32767 / 2048), ("SOFTMAX", 3.0)])
def test_every_int16_code(tmp_path: Path, op: str, span: float) -> None:
    """All 65536 input codes in one vector (SOFTMAX: rows of 256 in shuffled order): the sigmoid table, the
    input scaling (power-of-two or not) and the softmax tables, exhaustively."""
    model = one_op_model(op, span)
    codes = np.arange(-32768, 32768, dtype=np.int16)
    if op == "SOFTMAX":
        codes = np.random.default_rng(5).permutation(codes)
    check(model, tmp_path, op.lower(), vec=codes.view(np.int8).reshape(1, -1), sanitize=False)


@pytest.mark.cross
def test_audio_model_cortex_m4(tmp_path: Path) -> None:
    model = audio_model("int16")
    g, _ = compile_to(model, tmp_path / "lib", "audio16")
    vec = random_vectors(_nbytes(g, g.inputs[0]), 3, seed=21)
    res = run_cortex_m4(tmp_path / "lib", vec, tmp_path / "m4")
    assert np.array_equal(res["outputs"], tflm_outputs(model, vec))
