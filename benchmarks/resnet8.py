"""A ResNet-8-shaped int8 model (MLPerf Tiny image classification layout) for the memory and speed benchmarks.

No ResNet-8 ``.tflite`` ships with the shared models, so this module builds one: 32x32x3 input (batch 1), a
3x3 stem convolution of 16 channels, three stages of residual blocks (each block two 3x3 convolutions, 16 /
32 / 64 channels; the first convolution of stages 2 and 3 has stride 2 and its block a 1x1 stride-2 shortcut
convolution), global average pooling, dense 10 and softmax. MLPerf Tiny's ResNet-8 has one block per stage
(8 weighted layers); ``blocks`` gives deeper variants. Weights are random (seeded): memory and instruction
counts do not depend on them. Converted to full int8 (int8 input and output) the way the tests do, with a
seeded random representative set, and cached as a ``.tflite`` under the temp directory (never committed).

Run: .venv/bin/python benchmarks/resnet8.py [--blocks N]  (prints the cached file's path)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

VERSION = 1  # bump when the architecture or the conversion changes (a new cache file)


def cache_dir() -> Path:
    d = Path(os.environ.get("EML_BENCH_CACHE", Path(tempfile.gettempdir()) / "crisp_eml_bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_keras(blocks: int = 1, seed: int = 0) -> Any:
    """The Keras 3 model (fixed batch 1)."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inp = keras.Input(shape=(32, 32, 3), batch_size=1)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    for stage, ch in enumerate((16, 32, 64)):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            y = layers.Conv2D(ch, 3, strides=stride, padding="same", activation="relu")(x)
            y = layers.Conv2D(ch, 3, padding="same")(y)
            short = layers.Conv2D(ch, 1, strides=2)(x) if stride == 2 else x
            x = layers.ReLU()(layers.Add()([short, y]))
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out)


def convert_int8(model: Any, seed: int = 0, shape: tuple[int, ...] = (1, 32, 32, 3)) -> bytes:
    """Full-int8 conversion with a seeded random representative set (as ``tests/golden/tiny_models``) of input
    ``shape`` (``benchmarks/vww.py`` converts its 96x96x3 model with it too)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def rep() -> Any:
        for _ in range(16):
            yield [rng.uniform(-2, 2, size=shape).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    data: bytes = conv.convert()
    return data


def resnet8_path(blocks: int = 1) -> Path:
    """The cached int8 ``.tflite`` (built and converted on first use)."""
    path = cache_dir() / f"resnet8_b{blocks}_v{VERSION}.tflite"
    if not path.exists():
        data = convert_int8(build_keras(blocks))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=1, help="residual blocks per stage (MLPerf ResNet-8: 1)")
    print(resnet8_path(ap.parse_args().blocks))


if __name__ == "__main__":
    main()
