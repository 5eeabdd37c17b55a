"""Keras 3 models converted the default way (open batch size) compile, byte-exact with TFLite Micro.

``keras.Input(shape=...)`` without a batch size, ``TFLiteConverter.from_keras_model``, full int8: Flatten
brings SHAPE/STRIDED_SLICE/PACK, Conv1D EXPAND_DIMS, dilated convs SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND
(``compiler.fold`` rewrites them). A two-input, two-output model checks the multi-I/O API (packed vectors, per
tensor macros, ``<name>_invoke_n``) on the host (-O3 and ASan/UBSan) and on QEMU Cortex-M4. TFLite Micro is the
golden (``verify.tflm_outputs``); for dilated convs it runs the same file with its space-to-batch tensors given
their true batch (``fold.tflm_batch_fixed``), since it cannot resize them itself. Even so TFLite Micro reads
uninitialised arena bytes on those files now and then, depending on what the process allocated before (about 1
run in 10 after other interpreters; in a test worker every run can be wrong): the golden there comes from a
fresh process, the same state every time.
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from c_helpers import build_with_harness
from tiny_models import convert_int8

from crisp_eml.compiler import build, verify
from crisp_eml.compiler.build import write_tree
from crisp_eml.compiler.model_render import render_model
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.tflm_fix import tflm_batch_fixed
from crisp_eml.core.errors import InputError


def _flatten() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(21)
    x = keras.Input((6, 5, 2))
    y = layers.Conv2D(3, 3, padding="same", activation="relu")(x)
    return keras.Model(x, layers.Dense(4)(layers.Flatten()(y))), [(1, 6, 5, 2)]


def _conv1d() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(22)
    x = keras.Input((16, 3))
    y = layers.Conv1D(4, 3, padding="same", activation="relu")(x)
    y = layers.Conv1D(4, 3, dilation_rate=2, padding="same")(y)
    y = layers.SeparableConv1D(3, 2, dilation_rate=3, padding="valid")(y)
    return keras.Model(x, layers.Dense(3)(layers.Flatten()(y))), [(1, 16, 3)]


def _dilated() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(23)
    x = keras.Input((10, 9, 3))
    y = layers.Conv2D(4, 3, dilation_rate=2, padding="same", activation="relu")(x)
    y = layers.SeparableConv2D(5, 3, dilation_rate=2, padding="valid")(y)
    y = layers.DepthwiseConv2D(3, dilation_rate=(2, 3), padding="same")(y)
    return keras.Model(x, layers.Dense(3)(layers.GlobalAveragePooling2D()(y))), [(1, 10, 9, 3)]


def _dense() -> tuple[Any, list[tuple[int, ...]]]:
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(24)
    x = keras.Input((12,))
    return keras.Model(x, layers.Dense(3, activation="softmax")(layers.Dense(8, activation="relu")(x))), [(1, 12)]


def _two_in_two_out() -> tuple[Any, list[tuple[int, ...]]]:
    """Two (4, 3) inputs (same shape: the converter's input order cannot mismatch the calibration data), a
    dense and a Conv1D branch concatenated, a softmax head and a linear head."""
    from tensorflow import keras
    from tensorflow.keras import layers

    keras.utils.set_random_seed(25)
    a, b = keras.Input((4, 3)), keras.Input((4, 3))
    ha = layers.Dense(6, activation="relu")(layers.Flatten()(a))
    hb = layers.Flatten()(layers.Conv1D(2, 2, padding="same")(b))
    c = layers.Concatenate()([ha, hb])
    return keras.Model([a, b], [layers.Dense(3, activation="softmax")(c), layers.Dense(2)(c)]), [(1, 4, 3)] * 2


BUILDERS = {"flatten": _flatten, "conv1d": _conv1d, "dilated": _dilated, "dense": _dense, "two_io": _two_in_two_out}


@pytest.fixture(scope="module")
def models(request: pytest.FixtureRequest) -> dict[str, bytes]:
    cache = Path(request.config.cache.mkdir("eml-open-batch-v1"))
    out = {}
    for name, builder in BUILDERS.items():
        path = cache / f"{name}.tflite"
        if not path.exists():
            model, shapes = builder()
            path.write_bytes(convert_int8(model, shapes))
        out[name] = path.read_bytes()
    return out


def _library(data: bytes, out: Path, name: str) -> tuple[Any, dict[str, str]]:
    g, files = render_model(data, name=name, labels=[], model_sha256="", dsp=None, source=f"{name}.tflite")
    write_tree(files, out)
    return g, files


def _tflm_golden(data: bytes, vec: np.ndarray) -> np.ndarray:
    """TFLM's outputs; for space-to-batch files from a fresh interpreter process (see the module docstring: what
    was allocated before in this process decides whether it reads stale bytes, so a run here is not reproducible)."""
    if "SPACE_TO_BATCH_ND" not in {op.type for op in _raw_ops(data)}:
        return verify.tflm_outputs(data, vec)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return np.asarray(pool.apply(verify.tflm_outputs, (data, vec)))


def _vectors(g: Any, k: int, seed: int) -> np.ndarray:
    return verify.random_vectors(verify.io_bytes(verify.io_layout([g.tensor(i) for i in g.inputs])), k, seed)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_open_batch_model_is_byte_exact(models: dict[str, bytes], name: str, tmp_path: Path) -> None:
    data = models[name]
    raw_types = {op.type for op in _raw_ops(data)}
    g, _ = _library(data, tmp_path / "lib", name)
    assert {"SHAPE", "PACK", "EXPAND_DIMS", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"}.isdisjoint(
        op.type for op in g.ops)
    vec = _vectors(g, 10, seed=3)
    want = _tflm_golden(data, vec)
    assert np.array_equal(verify.reference_outputs(data, vec), want)
    exe = build.host_build(tmp_path / "lib", tmp_path / "host")
    got, _ = build.host_run(exe, vec, want.shape[1])
    assert np.array_equal(got, want)
    if name == "dilated":
        assert {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"} <= raw_types
        assert any(op.type == "PAD" and op.options.get("pad_value") == 0 for op in g.ops)  # zero point != 0
    if name in ("flatten", "two_io"):
        assert "SHAPE" in raw_types
    if name == "conv1d":
        assert {"EXPAND_DIMS", "SPACE_TO_BATCH_ND"} <= raw_types


def _raw_ops(data: bytes) -> list[Any]:
    from crisp_eml.compiler.reader import _load_tflite, _parse

    return _parse(_load_tflite(), data).ops


def test_tflm_needs_the_space_to_batch_shapes(models: dict[str, bytes]) -> None:
    """Why ``tflm_batch_fixed`` exists: on the file as written TFLite Micro gives every input the same output."""
    data = models["dilated"]
    g = read_tflite(data)
    vec = _vectors(g, 4, seed=5)
    fixed = tflm_batch_fixed(data)
    assert fixed != data and len(fixed) == len(data)
    assert len({bytes(r) for r in _tflm_golden(fixed, vec)}) > 1  # a fresh interpreter process, as the golden
    assert tflm_batch_fixed(models["flatten"]) == models["flatten"]


def test_two_inputs_two_outputs_api(models: dict[str, bytes], tmp_path: Path) -> None:
    """Per-tensor macros, no <name>_run, <name>_invoke_n == <name>_invoke_packed == TFLite Micro; ASan too."""
    data = models["two_io"]
    g, files = _library(data, tmp_path / "lib", "two")
    h = files["src/two.h"]
    sizes = [int(np.prod(g.tensor(i).shape)) for i in g.inputs], [int(np.prod(g.tensor(i).shape)) for i in g.outputs]
    assert f"#define TWO_INPUT_BYTES {sum(sizes[0])}" in h and f"#define TWO_OUTPUT_BYTES {sum(sizes[1])}" in h
    assert f"#define TWO_OUTPUT1_SIZE {sizes[1][1]}" in h and "#define TWO_INPUT1_TYPE int8_t" in h
    assert "two_run(const" not in h and "two_invoke(const" not in h and "TWO_INPUT_SIZE" not in h
    manifest = __import__("json").loads(files["MANIFEST.json"])
    assert [t["shape"] for t in manifest["inputs"]] == [list(g.tensor(i).shape) for i in g.inputs]
    assert manifest["api"] == {"invoke": False, "run": False, "invoke_n": True, "invoke_packed": True}
    vec = _vectors(g, 6, seed=9)
    want = verify.tflm_outputs(data, vec)
    harness = """#include <stdio.h>
#include <string.h>
#include "two.h"
int main(int argc, char **argv)
{
    static int8_t in[TWO_INPUT_BYTES], out[TWO_OUTPUT_BYTES], a[TWO_OUTPUT0_BYTES], b[TWO_OUTPUT1_BYTES];
    const void *ins[2];
    void *outs[2];
    FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
    (void)argc;
    if (two_invoke_n(ins, outs) != TWO_ERR_NOT_INITIALIZED && two_invoke_n(NULL, outs) != TWO_ERR_NULL) return 9;
    two_init();
    ins[0] = in; ins[1] = in + TWO_INPUT0_BYTES; outs[0] = a; outs[1] = NULL;
    if (two_invoke_n(ins, outs) != TWO_ERR_NULL) return 8;
    outs[1] = b;
    while (fread(in, 1, sizeof in, fi) == sizeof in) {
        if (two_invoke_n(ins, outs) != TWO_OK || two_invoke_packed(in, out) != TWO_OK) return 7;
        if (memcmp(out, a, sizeof a) != 0 || memcmp(out + TWO_OUTPUT0_BYTES, b, sizeof b) != 0) return 6;
        fwrite(out, 1, sizeof out, fo);
    }
    fclose(fi);
    fclose(fo);
    return 0;
}
"""
    exe = build_with_harness(files, harness, tmp_path / "h")
    (tmp_path / "v.bin").write_bytes(vec.tobytes())
    r = subprocess.run([str(exe), str(tmp_path / "v.bin"), str(tmp_path / "o.bin")], capture_output=True)
    assert r.returncode == 0, r
    assert np.array_equal(np.frombuffer((tmp_path / "o.bin").read_bytes(), np.int8).reshape(want.shape), want)
    exe = build.host_build(tmp_path / "lib", tmp_path / "asan", sanitize=True, opt="-O1")
    got, _ = build.host_run(exe, vec, want.shape[1])
    assert np.array_equal(got, want)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="arm-none-eabi-gcc / qemu-system-arm not installed")
def test_two_inputs_two_outputs_on_cortex_m4(models: dict[str, bytes], tmp_path: Path) -> None:
    data = models["two_io"]
    g, _ = _library(data, tmp_path / "lib", "two")
    (tmp_path / "lib" / "MANIFEST.json").exists()
    vec = _vectors(g, 4, seed=13)
    res = verify.run_cortex_m4(tmp_path / "lib", vec, tmp_path / "m4")
    assert np.array_equal(res["outputs"], verify.tflm_outputs(data, vec))


def test_float_open_batch_model_hears_the_float_message(tmp_path: Path) -> None:
    """A float Flatten model has SHAPE ops: the type check runs first, so it is told to quantize."""
    import tensorflow as tf

    model, _ = _flatten()
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    assert "SHAPE" in {op.type for op in _raw_ops(data)}
    with pytest.raises(InputError, match=r"^f\.tflite: float model: operator 0 \(CONV_2D\)"):
        read_tflite(data, source="f.tflite")
