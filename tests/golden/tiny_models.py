"""Tiny Keras models converted to full-int8 TFLite, covering every op the compiler supports.

Built and converted once per test process by :func:`build_all` (``functools.cache``); each model is a few
hundred parameters so conversion stays fast on a 2-core CI machine. :func:`convert_int8` is also the one
conversion routine the C-library golden tests (``c_helpers``) use for their own cached models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np


def convert_int8(model: Any, shapes: list[tuple[int, ...]], float_io: bool = False, seed: int = 0,
                 representative: np.ndarray | None = None) -> bytes:
    """Full-int8 conversion (int8 input and output unless ``float_io``) with a seeded random representative set,
    or, for a one-input model, the rows of ``representative`` (real features: in-distribution quantisation);
    ``shapes`` are the input shapes including the batch dimension. Accepts a Keras model or a ``tf.function``."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def rep() -> Any:
        if representative is not None:
            for row in representative:
                yield [np.asarray(row, np.float32).reshape(shapes[0])]
            return
        for _ in range(16):
            yield [rng.uniform(-2, 2, size=s).astype(np.float32) for s in shapes]

    if isinstance(model, tf.types.experimental.PolymorphicFunction):
        conv = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()])
    else:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    data: bytes = conv.convert()
    return data


def _conv_net() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    x = keras.Input((9, 8, 3), batch_size=1)
    y = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="valid", activation="relu6")(y)
    y = layers.ZeroPadding2D(((1, 0), (0, 1)))(y)
    y = layers.MaxPooling2D(2, padding="same")(y)
    y = layers.Conv2D(6, 1, dilation_rate=1, padding="same")(y)
    y = layers.AveragePooling2D(2, strides=1, padding="same")(y)
    y = layers.Flatten()(y)
    y = layers.Dense(5)(y)
    y = layers.Softmax()(y)
    return keras.Model(x, y), [(1, 9, 8, 3)]


def _elementwise_net() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    a = keras.Input((12,), batch_size=1)
    b = keras.Input((12,), batch_size=1)
    h1 = layers.Dense(8, activation="tanh")(a)
    h2 = layers.Dense(8, activation="sigmoid")(b)
    s = layers.Add()([h1, h2])
    d = layers.Subtract()([h1, h2])
    m = layers.Multiply()([s, d])
    c = layers.Concatenate()([s, m, d])
    r = layers.ReLU()(layers.Reshape((4, 6))(c))
    r6 = layers.ReLU(max_value=6.0)(layers.Reshape((24,))(layers.Dense(6)(r)))
    out = layers.Dense(5)(r6)
    return keras.Model([a, b], out), [(1, 12), (1, 12)]


def _conv1d_net() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    x = keras.Input((20, 6), batch_size=1)
    y = layers.Conv1D(5, 3, padding="same", activation="relu")(x)
    y = layers.SeparableConv1D(6, 3, padding="valid", activation="relu")(y)
    y = layers.Permute((2, 1))(y)
    y = layers.Cropping1D((1, 2))(y)
    y = layers.GlobalAveragePooling1D()(y)
    y = layers.Dense(4)(y)
    return keras.Model(x, y), [(1, 20, 6)]


def _slice_fn() -> tuple[Any, list[tuple[int, ...]]]:
    """A tf.function (no Keras) for ops Keras layers do not emit: SQUEEZE, strided STRIDED_SLICE, MEAN keep."""
    import tensorflow as tf

    w = tf.constant(np.random.default_rng(3).normal(size=(1, 1, 4, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((1, 6, 1, 4), tf.float32)])
    def fn(x: Any) -> Any:
        y = tf.nn.conv2d(x, w, 1, "SAME")
        y = tf.squeeze(y, axis=2)
        y = tf.nn.relu6(tf.concat([y[:, ::2, 1:] * 4.0, y[:, 1::2, :3]], axis=2))
        return tf.reduce_mean(y, axis=[1], keepdims=True)

    return fn, [(1, 6, 1, 4)]


def _requant_fn() -> tuple[Any, list[tuple[int, ...]]]:
    """CONCATENATION of differently scaled inputs: the converter adds an int8 -> int8 QUANTIZE."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def fn(x: Any) -> Any:
        return tf.concat([tf.nn.relu(x * 30.0), tf.nn.tanh(x)], axis=1)

    return fn, [(1, 8)]


def _float_io_net() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    x = keras.Input((10,), batch_size=1)
    y = layers.Dense(7, activation="relu")(x)
    y = layers.Dense(3)(y)
    return keras.Model(x, y), [(1, 10)]


BUILDERS: dict[str, tuple[Callable[[], tuple[Any, list[tuple[int, ...]]]], bool]] = {
    "conv": (_conv_net, False),
    "elementwise": (_elementwise_net, False),
    "conv1d": (_conv1d_net, False),
    "float_io": (_float_io_net, True),
    "slice": (_slice_fn, False),
    "requant": (_requant_fn, False),
}


@functools.cache
def build_all() -> dict[str, bytes]:
    """name -> int8 .tflite bytes; built once per process (session)."""
    from tensorflow import keras

    keras.utils.set_random_seed(1)
    out = {}
    for name, (builder, float_io) in BUILDERS.items():
        model, shapes = builder()
        out[name] = convert_int8(model, shapes, float_io=float_io)
    return out
