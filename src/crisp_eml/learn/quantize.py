"""Keras model -> float32 and full-int8 TFLite flatbuffers (the two deployable variants of a run).

int8: int8 input and output tensors, per-channel int8 weights, int32 biases, activations calibrated on
a representative sample of the *training* features (drawn with the run's seed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from crisp_eml.core.errors import VerificationError
from crisp_eml.learn.tf_setup import quiet, tf_modules


def to_float32(model: Any) -> bytes:
    tf, _ = tf_modules()
    with quiet():
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
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
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return bytes(conv.convert())
