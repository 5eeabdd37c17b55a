"""Generated C vs TensorFlow Lite Micro, byte for byte: both MLPerf Tiny models and a tiny Keras model.

Host builds use ``-std=c99 -Wall -Wextra -Werror -pedantic``; KWS runs once more under ASan/UBSan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from c_helpers import compile_to, io_sizes, tiny_c_models  # noqa: F401 (fixture)

from conftest import MLPERF_TINY
from crisp_eml.compiler import build
from crisp_eml.compiler.verify import random_vectors, tflm_outputs

MODELS = ["kws_ref_model", "ad01_int8"]


def _check(model: bytes, tmp: Path, name: str, k: int, *, sanitize: bool = False) -> np.ndarray:
    g, files = compile_to(model, tmp / "lib", name)
    n_in, n_out = io_sizes(g)
    vec = random_vectors(n_in, k, seed=7)
    exe = build.host_build(tmp / "lib", tmp / "build", sanitize=sanitize, opt="-O1" if sanitize else "-O2")
    got, _ = build.host_run(exe, vec, n_out)
    want = tflm_outputs(model, vec)
    assert got.shape == want.shape
    assert np.array_equal(got, want), f"{int((got != want).sum())} bytes differ from TFLite Micro"
    return got


@pytest.mark.parametrize("model", MODELS)
def test_mlperf_model_bit_exact_on_host(model: str, tmp_path: Path) -> None:
    got = _check((MLPERF_TINY / f"{model}.tflite").read_bytes(), tmp_path, model, 4)
    assert len({bytes(r) for r in got}) > 1  # different inputs give different outputs: not a constant


def test_kws_under_asan_ubsan(tmp_path: Path) -> None:
    _check((MLPERF_TINY / "kws_ref_model.tflite").read_bytes(), tmp_path, "kws", 1, sanitize=True)


def test_tiny_models_under_asan_ubsan(tiny_c_models: dict[str, bytes], tmp_path: Path) -> None:  # noqa: F811
    for name, data in tiny_c_models.items():
        _check(data, tmp_path / name, name, 4, sanitize=True)


@pytest.mark.parametrize("name", ["tiny_conv", "dense_mix", "shape_ops", "float_io", "dw_variants", "normalize"])
def test_tiny_models_bit_exact(name: str, tiny_c_models: dict[str, bytes], tmp_path: Path) -> None:  # noqa: F811
    """Every op with a C kernel: PAD, MEAN, TRANSPOSE, STRIDED_SLICE, ADD/SUB/MUL, CONCATENATION, LOGISTIC..."""
    _check(tiny_c_models[name], tmp_path, name, 12)


def test_only_used_kernels_are_emitted(tmp_path: Path) -> None:
    _, files = compile_to(MLPERF_TINY / "ad01_int8.tflite", tmp_path / "lib", "ad01")
    src = files["src/eml_kernels.c"]
    assert "eml_fc_s8" in src
    assert "eml_conv2d_s8" not in src and "eml_softmax_s8" not in src and "@section" not in src


def test_corrupted_weights_are_detected(tmp_path: Path) -> None:
    """The comparison can fail: flip one weight in the generated source and the outputs differ."""
    model = (MLPERF_TINY / "ad01_int8.tflite").read_bytes()
    g, files = compile_to(model, tmp_path / "lib", "ad01")
    src_path = tmp_path / "lib" / "src" / "ad01.c"
    text = src_path.read_text()
    marker = "ad01_l0_w[81920] = {\n    "
    i = text.index(marker) + len(marker)
    j = text.index(",", i)
    old = int(text[i:j])
    src_path.write_text(text[:i] + str(-old if old else 99) + text[j:])
    n_in, n_out = io_sizes(g)
    vec = random_vectors(n_in, 8, seed=1)
    exe = build.host_build(tmp_path / "lib", tmp_path / "build")
    got, _ = build.host_run(exe, vec, n_out)
    assert not np.array_equal(got, tflm_outputs(model, vec))


def test_kws_runs_with_overlapping_in_place_plan(tmp_path: Path) -> None:
    """The golden tests above use the real planner: for KWS it overlaps outputs with dying inputs."""
    from c_helpers import plan_for

    from crisp_eml.compiler.reader import read_tflite

    g = read_tflite(MLPERF_TINY / "kws_ref_model.tflite")
    plan = plan_for(g)
    assert getattr(plan, "inplace", {}), "planner did not place any output over its input"
    assert plan.arena_bytes < 16_000  # below the peak of simultaneously live activations


def test_requantization_matches_python_reference(tmp_path: Path) -> None:
    """eml_mul_by_qm (C) == core.quant.multiply_by_quantized_multiplier on random and edge values."""
    import subprocess

    from crisp_eml.compiler.build import WARNINGS, tool
    from crisp_eml.compiler.c import kernel_source
    from crisp_eml.core import quant

    (tmp_path / "eml_kernels.h").write_text(kernel_source("eml_kernels.h", []))
    (tmp_path / "eml_kernels.c").write_text(kernel_source("eml_kernels.c", []))
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "eml_kernels.h"\nint main(void)\n{\n    long x, m, s;\n'
        '    while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {\n'
        '        printf("%ld\\n", (long)eml_mul_by_qm((int32_t)x, (int32_t)m, (int32_t)s));\n    }\n'
        '    return 0;\n}\n')
    exe = tmp_path / "qm"
    subprocess.run([tool("gcc"), *WARNINGS, "-O2", f"-I{tmp_path}", str(tmp_path / "main.c"),
                    str(tmp_path / "eml_kernels.c"), "-o", str(exe)], check=True)
    rng = np.random.default_rng(0)
    n = 20000
    x = np.concatenate([rng.integers(-2**31, 2**31, n), rng.integers(-70000, 70000, n),
                        [-2**31, 2**31 - 1, 0, -1, 1, -2**31]])
    m = np.concatenate([rng.integers(2**30, 2**31, 2 * n), [2**31 - 1] * 5, [2**30]])
    sh = np.concatenate([rng.integers(-31, 1, 2 * n), [-31, -1, 0, -5, -1, 0]])
    sh[:5000] = rng.integers(-31, 8, 5000)
    x = np.where(sh > 0, x >> 10, x)  # left shifts must not overflow int32 (as in TFLite)
    out = subprocess.run([str(exe)], input="\n".join(f"{a} {b} {c}" for a, b, c in zip(x, m, sh, strict=True)),
                         capture_output=True, text=True, check=True).stdout.split()
    np.testing.assert_array_equal(np.array(out, np.int64), quant.multiply_by_quantized_multiplier(x, m, sh))


def _qm_exe(tmp_path: Path, fn: str) -> Path:
    import subprocess

    from crisp_eml.compiler.build import WARNINGS, tool
    from crisp_eml.compiler.c import kernel_source

    (tmp_path / "eml_kernels.h").write_text(kernel_source("eml_kernels.h", []))
    (tmp_path / "eml_kernels.c").write_text(kernel_source("eml_kernels.c", []))
    (tmp_path / f"{fn}.c").write_text(
        '#include <stdio.h>\n#include "eml_kernels.h"\nint main(void)\n{\n    long x, m, s;\n'
        '    while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {\n'
        f'        printf("%ld\\n", (long){fn}((int32_t)x, (int32_t)m, (int32_t)s));\n    }}\n'
        '    return 0;\n}\n')
    exe = tmp_path / fn
    subprocess.run([tool("gcc"), *WARNINGS, "-O2", f"-I{tmp_path}", str(tmp_path / f"{fn}.c"),
                    str(tmp_path / "eml_kernels.c"), "-o", str(exe)], check=True)
    return exe


def _qm_run(exe: Path, x: np.ndarray, m: np.ndarray, sh: np.ndarray) -> np.ndarray:
    import subprocess

    out = subprocess.run([str(exe)], input="\n".join(f"{a} {b} {c}" for a, b, c in zip(x, m, sh, strict=True)),
                         capture_output=True, text=True, check=True).stdout.split()
    return np.array(out, np.int64)


def test_fast_requantization_variants_match_python_reference(tmp_path: Path) -> None:
    """eml_mul_by_qm_pos (multiplier >= 0, any x incl. INT32_MIN, any shift) and eml_mul_by_qm_fast (its domain:
    |x| < 2^30, shift <= -1; SMMULR + one rounding shift) equal TFLite's MultiplyByQuantizedMultiplier."""
    from crisp_eml.core import quant

    rng = np.random.default_rng(3)
    n = 20000
    # pos: the whole int32 range, multipliers 0 .. 2^31 - 1 (incl. 0, 2^30), shifts -31 .. 7
    x = np.concatenate([rng.integers(-2**31, 2**31, n), rng.integers(-70000, 70000, n),
                        [-2**31, 2**31 - 1, 0, -1, 1, -2**31, -2**31, 2**30]])
    m = np.concatenate([rng.integers(2**30, 2**31, 2 * n), [2**31 - 1, 2**30, 2**30, 0, 2**30, 2**30, 2**31 - 1,
                                                           2**30]])
    m[:500] = rng.integers(0, 2**31, 500)
    sh = np.concatenate([rng.integers(-31, 1, 2 * n), [-31, -1, 0, -5, -1, 0, -31, -1]])
    sh[:5000] = rng.integers(-31, 8, 5000)
    x = np.where(sh > 0, x >> 10, x)  # left shifts must not overflow int32 (as in TFLite)
    got = _qm_run(_qm_exe(tmp_path, "eml_mul_by_qm_pos"), x, m, sh)
    np.testing.assert_array_equal(got, quant.multiply_by_quantized_multiplier(x, m, sh))
    # fast: |x| < 2^30 (edges included), ties of the final rounding, shift -1 and -31
    lim = 2**30 - 1
    x = np.concatenate([rng.integers(-lim, lim + 1, n), rng.integers(-3000, 3000, n), [lim, -lim, 0, -1, 1],
                        -(np.arange(1, 200) << 4), np.arange(1, 200) << 4])
    k = len(x)
    m = rng.integers(2**30, 2**31, k)
    m[:300] = rng.integers(0, 2**31, 300)
    m[-398:] = 2**30  # x * 2^30 / 2^31 = x / 2: exact halves, then shifts make ties
    sh = rng.integers(-31, 0, k)
    sh[-398:] = -4
    sh[2 * n:2 * n + 5] = [-1, -1, -31, -1, -31]
    got = _qm_run(_qm_exe(tmp_path, "eml_mul_by_qm_fast"), x, m, sh)
    np.testing.assert_array_equal(got, quant.multiply_by_quantized_multiplier(x, m, sh))


def test_kws_bit_exact_without_fast_requantization(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With rq_fast off for every layer the kernels take the general (eml_mbqm_pos) path: still exact."""
    from crisp_eml.compiler.c import lower

    monkeypatch.setattr(lower, "rq_fast_ok", lambda *a: False)
    _, files = compile_to(MLPERF_TINY / "kws_ref_model.tflite", tmp_path / "probe", "probe")
    assert ".rq_fast = 1" not in files["src/probe.c"] and ".rq_fast = 0" in files["src/probe.c"]
    _check((MLPERF_TINY / "kws_ref_model.tflite").read_bytes(), tmp_path, "kws", 2)


def test_generated_makefile_and_cmake_build(tmp_path: Path) -> None:
    """The library's own build files work: `make` and `cmake` both produce the static library."""
    import shutil
    import subprocess

    compile_to(MLPERF_TINY / "ad01_int8.tflite", tmp_path / "lib", "ad01")
    r = subprocess.run(["make", "-C", str(tmp_path / "lib"), "CFLAGS=-std=c99 -O1 -Wall -Wextra -Werror -pedantic"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "lib" / "libad01.a").is_file()
    if shutil.which("cmake") is None:
        pytest.fail("cmake is required to check the generated CMakeLists.txt")
    build = tmp_path / "cmake-build"
    for cmd in (["cmake", "-S", str(tmp_path / "lib"), "-B", str(build)], ["cmake", "--build", str(build)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    assert (build / "libad01.a").is_file()
