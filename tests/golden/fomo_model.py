"""A small FOMO-style detection model (Keras 3), full-int8: the shape Edge Impulse's FOMO has.

MobileNet-like backbone (width ~0.35: 8-32 channels) on a 96x96x1 image: a stride-2 3x3 conv, then
depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, ReLU6) cut at 1/8 resolution (12x12), a 1x1
conv head with ``N + 1`` classes (background + N objects) and a per-cell softmax over the last axis of the
4-D map. Random (seeded) weights: the point is the op mix and the shapes, not accuracy. Converted once per
process with a seeded representative set at batch 1.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

INPUT_SHAPE = (96, 96, 1)
CLASSES = 3  # background + 2 object classes
GRID = 12


def build_fomo(classes: int = CLASSES) -> Any:
    import keras
    from keras import layers

    keras.utils.set_random_seed(15)
    x = keras.Input(INPUT_SHAPE, batch_size=1)
    y = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)  # 48x48
    y = layers.BatchNormalization()(y)
    y = layers.ReLU(6.0)(y)
    for filters, stride in ((16, 1), (24, 2), (24, 1), (32, 2)):  # 48 -> 24 -> 12
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(6.0)(y)
        y = layers.Conv2D(filters, 1, use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(6.0)(y)
    y = layers.Conv2D(16, 1, activation="relu")(y)  # FOMO's head: 1x1 conv, then one logit per class
    y = layers.Conv2D(classes, 1)(y)
    return keras.Model(x, layers.Softmax(axis=-1)(y))


@functools.cache
def fomo_tflite() -> bytes:
    """The int8 model (int8 input and output), converted once per process."""
    from tiny_models import convert_int8

    rng = np.random.default_rng(15)
    rep = rng.uniform(0.0, 1.0, size=(16, 1, *INPUT_SHAPE)).astype(np.float32)
    return convert_int8(build_fomo(), [(1, *INPUT_SHAPE)], representative=rep)
