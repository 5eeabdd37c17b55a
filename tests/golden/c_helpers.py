"""Helpers for the generated-C golden tests: compile a model to a library tree, and the tiny test models.

The tiny models are converted with :func:`tiny_models.convert_int8` (one conversion routine for all golden
tests) and cached in pytest's cache dir.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tiny_models import convert_int8

from crisp_eml.compiler.planner import MemoryPlan, plan_memory
from crisp_eml.core.graph import Graph


def plan_for(g: Graph) -> MemoryPlan:
    """The compiler's own memory plan (the one ``eml compile`` uses)."""
    return plan_memory(g)


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
            path.write_bytes(convert_int8(model, [(1, *s) for s in shapes], float_io=name == "float_io"))
        out[name] = path.read_bytes()
    return out


def build_with_harness(files: dict[str, str], harness: str, out: Path, exe_name: str = "run") -> Path:
    """Write a rendered library under ``out/lib`` and build it with a ``main.c`` harness (gcc, warnings as
    errors, -O2, libm); returns the executable."""
    import subprocess

    from crisp_eml.compiler.build import WARNINGS, tool, write_tree

    write_tree(files, out / "lib")
    (out / "main.c").write_text(harness)
    exe = out / exe_name
    srcs = [str(p) for p in sorted((out / "lib" / "src").glob("*.c"))]
    r = subprocess.run([tool("gcc"), *WARNINGS, "-O2", f"-I{out / 'lib' / 'src'}", *srcs, str(out / "main.c"),
                        "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe
