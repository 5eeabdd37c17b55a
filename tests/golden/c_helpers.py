"""Helpers for the generated-C golden tests: a memory plan and TFLite Micro outputs.

``plan_for`` uses Engineer A's planner (``crisp_eml.compiler.planner``) when it exists; until then a
non-overlapping sequential plan that lives only here, in the tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from crisp_eml.core.graph import Graph

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[3] / "shared"))
MLPERF_TINY = SHARED / "models" / "mlperf-tiny"


def plan_for(g: Graph) -> Any:
    try:
        from crisp_eml.compiler.planner import plan_memory  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        offsets, off = {}, 0
        for t in g.tensors:
            if not t.is_constant:
                offsets[t.index] = off
                off += (t.nbytes + 15) // 16 * 16
        return SimpleNamespace(arena_bytes=off, offsets=offsets)
    return plan_memory(g)


def has_planner() -> bool:
    try:
        import crisp_eml.compiler.planner  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def compile_to(model: Path | bytes, out: Path, name: str) -> tuple[Graph, dict[str, str]]:
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library

    g = strip_float_io(read_tflite(model))
    files = render_library(g, plan_for(g), RenderOptions(name=name))
    write_tree(files, out)
    return g, files


def io_sizes(g: Graph) -> tuple[int, int]:
    return (int(np.prod(g.tensor(g.inputs[0]).shape)), int(np.prod(g.tensor(g.outputs[0]).shape)))


def convert_int8(model: Any, shapes: list[tuple[int, ...]], float_io: bool = False) -> bytes:
    """Full-int8 conversion (int8 input and output unless ``float_io``) with a random representative set."""
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def rep() -> Any:
        for _ in range(16):
            yield [rng.uniform(-2, 2, size=(1, *s)).astype(np.float32) for s in shapes]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    data: bytes = conv.convert()
    return data


def _shape_ops() -> tuple[object, list[tuple[int, ...]]]:
    """Conv1D + PAD, TRANSPOSE, STRIDED_SLICE, standalone RELU and RELU6, MEAN (global average pooling)."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(7)
    x = keras.Input((20, 6), batch_size=1)
    y = layers.Conv1D(5, 3, padding="same", activation="relu")(x)
    y = layers.ZeroPadding1D((2, 1))(y)
    y = layers.ReLU()(layers.Permute((2, 1))(y))
    y = layers.ReLU(max_value=6.0)(layers.Cropping1D((1, 1))(y))
    y = layers.Conv1D(4, 2, padding="valid")(y)
    y = layers.GlobalAveragePooling1D()(y)
    return keras.Model(x, layers.Dense(3)(y)), [(20, 6)]


def _dense_mix() -> tuple[object, list[tuple[int, ...]]]:
    """A dense network like ours: tanh/sigmoid heads, ADD/SUB/MUL/CONCATENATION, relu6, softmax."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(5)
    x = keras.Input((16,), batch_size=1)
    h = layers.Dense(12, activation="tanh")(x)
    h2 = layers.Dense(12, activation="sigmoid")(x)
    a = layers.Add()([h, h2])
    s = layers.Subtract()([h, h2])
    c = layers.Concatenate()([a, layers.Multiply()([a, s]), s])
    r = layers.Dense(10, activation="relu6")(c)
    r = layers.ReLU(max_value=6.0)(layers.Dense(8)(r))
    return keras.Model(x, layers.Dense(4, activation="softmax")(r)), [(16,)]


def _tiny_conv() -> tuple[object, list[tuple[int, ...]]]:
    """Conv(SAME, stride 2) + depthwise(VALID, x2) + max/avg pool + 1x1 conv + dense + softmax."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(3)
    x = keras.Input((9, 8, 3), batch_size=1)
    y = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="valid", activation="relu6")(y)
    y = layers.MaxPooling2D(2, padding="same")(y)
    y = layers.Conv2D(6, 1, padding="same")(y)
    y = layers.AveragePooling2D(2, strides=1, padding="same")(y)
    y = layers.Flatten()(y)
    y = layers.Dense(5)(y)
    return keras.Model(x, layers.Softmax()(y)), [(9, 8, 3)]


def _dw_variants() -> tuple[object, list[tuple[int, ...]]]:
    """Depthwise (multiplier 1, 8 channels: the 4-channel DSP path) with dilation, stride 2 and VALID."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(9)
    x = keras.Input((10, 9, 8), batch_size=1)
    y = layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, strides=2, padding="same")(y)
    y = layers.DepthwiseConv2D(3, padding="valid", activation="relu6")(y)
    return keras.Model(x, layers.Dense(4)(layers.Flatten()(y))), [(10, 9, 8)]


def _normalize() -> tuple[object, list[tuple[int, ...]]]:
    """Constant-operand SUB/MUL (a Normalization layer, as our own models have), c - x and a scalar ADD: the
    renderer's folded eml_binary_const_s8 path."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    mean, var = rng.normal(size=10), rng.uniform(0.1, 4.0, size=10)
    bias = rng.normal(size=10).astype(np.float32)
    x = keras.Input((10,), batch_size=1)
    z = layers.Normalization(mean=mean, variance=var)(x)
    y = layers.Concatenate()([layers.Lambda(lambda t: bias - t)(z), layers.Lambda(lambda t: t + 0.75)(z)])
    return keras.Model(x, layers.Dense(4)(y)), [(10,)]


def _float_io() -> tuple[object, list[tuple[int, ...]]]:
    """Float input and output: QUANTIZE first, DEQUANTIZE last (the library works inside them)."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(8)
    x = keras.Input((10,), batch_size=1)
    return keras.Model(x, layers.Dense(3)(layers.Dense(7, activation="relu")(x))), [(10,)]


BUILDERS: dict[str, Callable[[], tuple[object, list[tuple[int, ...]]]]] = {
    "tiny_conv": _tiny_conv, "dense_mix": _dense_mix, "shape_ops": _shape_ops, "float_io": _float_io,
    "dw_variants": _dw_variants, "normalize": _normalize}


@pytest.fixture(scope="session")
def tiny_c_models(request: pytest.FixtureRequest) -> dict[str, bytes]:
    """Tiny full-int8 models, converted once and kept in pytest's cache dir (never committed)."""
    cache = Path(request.config.cache.mkdir("eml-compiler-c-v4"))
    out = {}
    for name, builder in BUILDERS.items():
        path = cache / f"{name}.tflite"
        if not path.exists():
            model, shapes = builder()
            path.write_bytes(convert_int8(model, shapes, float_io=name == "float_io"))
        out[name] = path.read_bytes()
    return out
