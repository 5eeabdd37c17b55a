"""Keras model -> float32 and full-int8 TFLite flatbuffers (the two deployable variants of a run).

int8: int8 input and output tensors, per-channel int8 weights, int32 biases, activations calibrated on
a representative sample of the *training* features (drawn with the run's seed).

Both are converted from a batch-1 view of the model: with a dynamic batch dimension Keras 3 lowers
``Flatten``/``Reshape`` to ``SHAPE``/``STRIDED_SLICE``/``PACK`` ops that neither the C compiler nor most
microcontroller runtimes support; with a static batch of one they fold into a single ``RESHAPE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from crisp_eml.core.errors import VerificationError
from crisp_eml.learn.tf_setup import quiet, tf_modules


def _batch_one(model: Any) -> Any:
    """The same layers and weights behind an input of static batch size 1 (see the module docstring)."""
    _, keras = tf_modules()
    try:
        if len(model.inputs) != 1:
            return model
    except (AttributeError, ValueError):  # an unbuilt subclassed model: convert it as it is
        return model
    shape = tuple(model.inputs[0].shape[1:])
    inp = keras.Input(batch_shape=(1, *shape), name=model.inputs[0].name.split(":")[0] or "features")
    return keras.Model(inp, model(inp, training=False), name=model.name)


def to_float32(model: Any) -> bytes:
    tf, _ = tf_modules()
    with quiet():
        conv = tf.lite.TFLiteConverter.from_keras_model(_batch_one(model))
        return bytes(conv.convert())


def representative(X: np.ndarray, n: int = 300, seed: int = 0) -> np.ndarray:
    idx = np.random.default_rng(seed).permutation(len(X))[: min(n, len(X))]
    return np.asarray(X[np.sort(idx)], dtype=np.float32)


def to_int8(model: Any, rep_X: np.ndarray) -> bytes:
    """Full-integer model; ``rep_X`` are training features used to calibrate activation ranges."""
    tf, _ = tf_modules()
    if len(rep_X) == 0:
        raise VerificationError("int8 quantization needs representative training features; none were given")

    def rep() -> Iterator[list[np.ndarray]]:
        for row in rep_X:
            yield [row[None, ...].astype(np.float32)]

    with quiet():
        conv = tf.lite.TFLiteConverter.from_keras_model(_batch_one(model))
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return bytes(conv.convert())
