"""The x86 SSE2 kernel path and the portable C path, both byte for byte against TensorFlow Lite Micro.

A plain ``gcc -O2`` x86-64 build takes the SSE2 path (``EML_USE_SSE2``); ``-DEML_NO_SIMD`` selects the portable
loops. Both builds run the same vectors and must equal TFLM exactly; a probe checks that the SSE2 path really is
compiled in (macro on, ``pmaddwd`` in the object), so the test fails if the path silently disappears.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import numpy as np
import pytest
from c_helpers import compile_to, io_sizes, tiny_c_models  # noqa: F401 (fixture)
from tiny_models import convert_int8

from conftest import MLPERF_TINY
from crisp_eml.compiler import build
from crisp_eml.compiler.verify import random_vectors, tflm_outputs

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                                reason="the SSE2 kernel path exists on x86-64 hosts only")

TINY = ["tiny_conv", "dense_mix", "shape_ops", "float_io", "dw_variants", "normalize"]


@pytest.fixture(scope="session")
def odd_shapes_model(request: pytest.FixtureRequest) -> bytes:
    """Shapes that reach every SIMD remainder: 12 channels (8 + 4) through the 3x3 and the generic depthwise
    (clipped windows), a 1x1 conv with 3 groups of 4 k (odd) and 5 (odd) output channels, a 3x3 conv with K = 45
    (11 groups + 1) and 3 channels over 9 (odd) pixels, FC depths 27 (16 + 8 + 3) and 7 with 27, 7, 6 outputs."""
    path = Path(request.config.cache.mkdir("eml-compiler-c-simd-v1")) / "odd_shapes.tflite"
    if not path.exists():
        from tensorflow import keras
        from tensorflow.keras import layers

        keras.utils.set_random_seed(12)
        x = keras.Input((5, 6, 12), batch_size=1)
        y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        y = layers.DepthwiseConv2D(3, strides=2, padding="same")(y)
        y = layers.Conv2D(5, 1, activation="relu")(y)
        y = layers.Conv2D(3, 3, padding="same")(y)
        y = layers.Dense(27, activation="relu")(layers.Flatten()(y))
        y = layers.Dense(6)(layers.Dense(7)(y))
        path.write_bytes(convert_int8(keras.Model(x, y), [(1, 5, 6, 12)]))
    return path.read_bytes()


def _both_paths(model: bytes, tmp: Path, name: str, k: int) -> np.ndarray:
    g, _ = compile_to(model, tmp / "lib", name)
    n_in, n_out = io_sizes(g)
    vec = random_vectors(n_in, k, seed=11)
    want = tflm_outputs(model, vec)
    sse2 = build.host_build(tmp / "lib", tmp / "sse2", opt="-O2")
    portable = build.host_build(tmp / "lib", tmp / "portable", opt="-O2", defines=("EML_NO_SIMD",))
    got_sse2, _ = build.host_run(sse2, vec, n_out)
    got_portable, _ = build.host_run(portable, vec, n_out)
    assert np.array_equal(got_sse2, want), f"SSE2: {int((got_sse2 != want).sum())} bytes differ from TFLite Micro"
    assert np.array_equal(got_portable, want), \
        f"portable: {int((got_portable != want).sum())} bytes differ from TFLite Micro"
    return got_sse2


@pytest.mark.parametrize("model", ["kws_ref_model", "ad01_int8"])
def test_mlperf_sse2_and_portable_bit_exact(model: str, tmp_path: Path) -> None:
    got = _both_paths((MLPERF_TINY / f"{model}.tflite").read_bytes(), tmp_path, model, 3)
    assert len({bytes(r) for r in got}) > 1  # different inputs give different outputs: not a constant


def test_tiny_models_sse2_and_portable_bit_exact(tiny_c_models: dict[str, bytes],  # noqa: F811
                                                 tmp_path: Path) -> None:
    for name in TINY:
        _both_paths(tiny_c_models[name], tmp_path / name, name, 8)


def test_odd_shapes_sse2_and_portable_bit_exact(odd_shapes_model: bytes, tmp_path: Path) -> None:
    got = _both_paths(odd_shapes_model, tmp_path, "odd", 8)
    assert len({bytes(r) for r in got}) > 1


def _macros(src: Path, *flags: str) -> str:
    cmd = [build.tool("gcc"), "-std=c99", "-O2", *flags, f"-I{src}", "-dM", "-E", str(src / "eml_kernels.c")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return r.stdout


def test_plain_o2_build_takes_the_sse2_path(tmp_path: Path) -> None:
    """KWS uses conv, depthwise and FC: the -O2 object has SSE2 multiply-adds, the -DEML_NO_SIMD one has none."""
    compile_to(MLPERF_TINY / "kws_ref_model.tflite", tmp_path / "lib", "kws")
    src = tmp_path / "lib" / "src"
    assert "#define EML_USE_SSE2 1" in _macros(src)
    assert "#define EML_USE_SSE2 0" in _macros(src, "-DEML_NO_SIMD")
    objdump = build.tool("objdump")
    disasm = {}
    for tag, flags in (("sse2", []), ("portable", ["-DEML_NO_SIMD"])):
        obj = tmp_path / f"{tag}.o"
        subprocess.run([build.tool("gcc"), *build.WARNINGS, "-O2", *flags, f"-I{src}", "-c",
                        str(src / "eml_kernels.c"), "-o", str(obj)], check=True)
        disasm[tag] = subprocess.run([objdump, "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    assert disasm["sse2"].count("pmaddwd") >= 3  # FC, conv and depthwise inner products
    assert "pmaddwd" not in disasm["portable"]
