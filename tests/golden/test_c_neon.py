"""The aarch64 NEON kernel path and the portable C path, both byte for byte against TensorFlow Lite Micro.

A plain ``aarch64-linux-gnu-gcc -O2`` build (baseline ``-march=armv8-a``: no dot-product extension) takes the
NEON path (``EML_USE_NEON``); ``-DEML_NO_SIMD`` selects the portable loops. Both are built static and run under
``qemu-aarch64 -cpu cortex-a53`` (a Raspberry Pi 3 class core, armv8.0) on the same vectors: they must give the
same bytes and equal TFLM. A probe checks that the NEON path really is compiled in (macro on, ``sadalp`` /
``smlal`` in the object), so the test fails if the path silently disappears. The cross tools are test
dependencies: missing, the test fails naming the Debian packages.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from c_helpers import compile_to, io_sizes, tiny_c_models  # noqa: F401 (fixture)
from test_c_simd import TINY, odd_shapes_model  # noqa: F401 (fixture)

from conftest import MLPERF_TINY
from crisp_eml.compiler.build import WARNINGS, library_name
from crisp_eml.compiler.c.runner import host_runner
from crisp_eml.compiler.verify import random_vectors, tflm_outputs

CC = "aarch64-linux-gnu-gcc"
OBJDUMP = "aarch64-linux-gnu-objdump"
QEMU = "qemu-aarch64"
CFLAGS = [*WARNINGS, "-O2", "-march=armv8-a", "-static"]
PACKAGES = {CC: "gcc-aarch64-linux-gnu", OBJDUMP: "binutils-aarch64-linux-gnu (with gcc-aarch64-linux-gnu)",
            QEMU: "qemu-user"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing = PACKAGES.get(name, name)
        pytest.fail(f"'{name}' is not installed: the aarch64 NEON tests need the Debian packages "
                    f"gcc-aarch64-linux-gnu and qemu-user (make test installs them; missing: {missing})")
    return path


def cross_build(lib_dir: Path, out_dir: Path, defines: tuple[str, ...] = ()) -> Path:
    """Library + the host test runner, static aarch64 executable (warnings as errors)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = out_dir / "runner.c"
    runner.write_text(host_runner(library_name(lib_dir)), encoding="utf-8")
    exe = out_dir / "runner"
    srcs = [str(p) for p in sorted((lib_dir / "src").glob("*.c"))]
    r = subprocess.run([_tool(CC), *CFLAGS, *(f"-D{d}" for d in defines), f"-I{lib_dir / 'src'}", *srcs,
                        str(runner), "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def qemu_run(exe: Path, vectors: np.ndarray, out_size: int) -> np.ndarray:
    work = exe.parent
    (work / "vectors.bin").write_bytes(np.ascontiguousarray(vectors, np.int8).tobytes())
    r = subprocess.run([_tool(QEMU), "-cpu", "cortex-a53", str(exe), str(work / "vectors.bin"),
                        str(work / "outputs.bin")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr or r.stdout}"
    assert f"vectors {len(vectors)}" in r.stdout
    return np.frombuffer((work / "outputs.bin").read_bytes(), np.int8).reshape(-1, out_size)


def _both_paths(model: bytes, tmp: Path, name: str, k: int) -> np.ndarray:
    g, _ = compile_to(model, tmp / "lib", name)
    n_in, n_out = io_sizes(g)
    vec = random_vectors(n_in, k, seed=11)
    neon = qemu_run(cross_build(tmp / "lib", tmp / "neon"), vec, n_out)
    portable = qemu_run(cross_build(tmp / "lib", tmp / "portable", ("EML_NO_SIMD",)), vec, n_out)
    assert neon.tobytes() == portable.tobytes(), \
        f"{name}: NEON and EML_NO_SIMD differ in {int((neon != portable).sum())} bytes"
    want = tflm_outputs(model, vec)
    assert np.array_equal(neon, want), f"{name}: NEON: {int((neon != want).sum())} bytes differ from TFLite Micro"
    assert np.array_equal(portable, want), \
        f"{name}: portable: {int((portable != want).sum())} bytes differ from TFLite Micro"
    return neon


@pytest.mark.parametrize("model", ["kws_ref_model", "ad01_int8"])
def test_mlperf_neon_and_portable_bit_exact(model: str, tmp_path: Path) -> None:
    got = _both_paths((MLPERF_TINY / f"{model}.tflite").read_bytes(), tmp_path, model, 3)
    assert len({bytes(r) for r in got}) > 1  # different inputs give different outputs: not a constant


@pytest.mark.parametrize("name", TINY)
def test_tiny_models_neon_and_portable_bit_exact(name: str, tiny_c_models: dict[str, bytes],  # noqa: F811
                                                 tmp_path: Path) -> None:
    _both_paths(tiny_c_models[name], tmp_path, name, 8)


def test_odd_shapes_neon_and_portable_bit_exact(odd_shapes_model: bytes, tmp_path: Path) -> None:  # noqa: F811
    """Every SIMD remainder: 8 + 4 depthwise channels, odd groups / channels / pixels in conv, FC depth 16+8+3."""
    got = _both_paths(odd_shapes_model, tmp_path, "odd", 8)
    assert len({bytes(r) for r in got}) > 1


def _disasm(src: Path, obj: Path, *flags: str) -> str:
    subprocess.run([_tool(CC), *CFLAGS, *flags, f"-I{src}", "-c", str(src / "eml_kernels.c"), "-o", str(obj)],
                   check=True)
    return subprocess.run([_tool(OBJDUMP), "-d", str(obj)], capture_output=True, text=True, check=True).stdout


def _functions(disasm: str, prefix: str) -> str:
    """The disassembly of the functions whose names start with ``prefix`` (objdump prints ``<name>:`` then its
    lines up to a blank line; static helpers may or may not be inlined, so all of them)."""
    blocks = disasm.split("\n\n")
    return "\n".join(b for b in blocks if f"<{prefix}" in b.split(">:")[0])


def test_plain_o2_build_takes_the_neon_path(tmp_path: Path) -> None:
    """KWS uses conv, depthwise and FC: the -O2 object has NEON widening multiply-adds in each kernel, the
    -DEML_NO_SIMD one none at all."""
    compile_to(MLPERF_TINY / "kws_ref_model.tflite", tmp_path / "lib", "kws")
    src = tmp_path / "lib" / "src"

    def macros(*flags: str) -> str:
        cmd = [_tool(CC), "-std=c99", "-O2", "-march=armv8-a", *flags, f"-I{src}", "-dM", "-E",
               str(src / "eml_kernels.c")]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    assert "#define EML_USE_NEON 1" in macros()
    assert "#define EML_USE_NEON 0" in macros("-DEML_NO_SIMD")
    neon = _disasm(src, tmp_path / "neon.o")
    portable = _disasm(src, tmp_path / "portable.o", "-DEML_NO_SIMD")
    assert "sadalp" in _functions(neon, "eml_fc_s8")  # vmull_s8 + vpadalq_s16
    assert "smlal" in _functions(neon, "eml_conv2d_s8")  # vmlal_s16 on the int16 im2col
    assert "tbl" in _functions(neon, "eml_im2col")  # the (0, 2, 1, 3) widening
    assert "smlal" in _functions(neon, "eml_dw")  # generic multiplier-1 path
    assert "smull" in _functions(neon, "eml_dw")  # 3x3 ring path: vmull_s8 + vaddw
    assert "smull" not in _functions(portable, "eml_dw")
    for insn in ("sadalp", "smlal", "tbl"):
        assert insn not in portable
