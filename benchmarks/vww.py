"""A VWW-shaped int8 model (MLPerf Tiny visual wake words layout) for the flash and speed benchmarks.

No VWW ``.tflite`` ships with the shared models, so this module builds one the way MLPerf Tiny's reference
(``vww_model.py``) lays it out: MobileNetV1 with width multiplier (alpha) 0.25 on a 96x96x3 input (batch 1): a
3x3 stride-2 stem convolution of 8 channels, then 13 depthwise-separable blocks (3x3 depthwise + batch norm + ReLU,
1x1 pointwise + batch norm + ReLU; pointwise channels 16, 32, 32, 64, 64, 128 x 6, 256, 256; stride 2 in blocks
2, 4, 6 and 12), 3x3 average pooling, flatten, dense 2 and softmax. Batch norms fold into the convolutions when
converted. Weights are random (seeded): flash, RAM and instruction counts do not depend on them. Converted to full
int8 (int8 input and output) as ``benchmarks/resnet8.py`` does, with a seeded random representative set, and
cached as a ``.tflite`` under the temp directory (never committed).

Run: .venv/bin/python benchmarks/vww.py  (prints the cached file's path)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from resnet8 import cache_dir, convert_int8

VERSION = 2  # bump when the architecture or the conversion changes (a new cache file)
ALPHA = 0.25
SIZE = 96
#: (pointwise channels at alpha 1, depthwise stride) of MobileNetV1's 13 depthwise-separable blocks
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1))


def build_keras(seed: int = 0) -> Any:
    """The Keras 3 model (fixed batch 1)."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    # He-scaled initial weights (a depthwise filter's fan-in is its 9 taps): with the batch norms still at their
    # identity the activations keep their range through the 27 layers instead of shrinking ~4x per layer, which
    # would leave quantisation scales TFLite Micro refuses to run
    depthwise = keras.initializers.RandomNormal(stddev=(2 / 9) ** 0.5)
    inp = keras.Input(shape=(SIZE, SIZE, 3), batch_size=1)
    x = layers.Conv2D(int(32 * ALPHA), 3, strides=2, padding="same", use_bias=False,
                      kernel_initializer="he_normal")(inp)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for channels, stride in BLOCKS:
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   depthwise_initializer=depthwise)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2D(int(channels * ALPHA), 1, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.AveragePooling2D(pool_size=int(x.shape[1]))(x)
    x = layers.Flatten()(x)
    out = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inp, out)


def vww_path() -> Path:
    """The cached int8 ``.tflite`` (built and converted on first use)."""
    path = cache_dir() / f"vww_mobilenet025_{SIZE}_v{VERSION}.tflite"
    if not path.exists():
        data = convert_int8(build_keras(), shape=(1, SIZE, SIZE, 3))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def main() -> None:
    print(vww_path())


if __name__ == "__main__":
    main()
