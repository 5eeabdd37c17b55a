"""Check a generated library byte for byte against TFLite Micro (and the Python reference interpreter).

Host: gcc ``-Werror`` build, run on the library's test vectors; once more under ASan/UBSan. Cortex-M4:
arm-none-eabi-gcc build for QEMU ``mps2-an386``, run with semihosting; also reports sizes and instructions
executed per inference (SysTick under ``-icount shift=0``, calibrated in the same run).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler import build
from crisp_eml.compiler.verify_report import Check, VerifyReport
from crisp_eml.core.errors import InputError

VECTORS = "tests/vectors.bin"
EXPECTED = "tests/expected.bin"
MODEL = "tests/model.tflite"
#: Random vectors ``verify_library`` checks when the library stores none (compiled with ``--vectors 0``).
FRESH_VECTORS = 8


def random_vectors(n_in: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (k, n_in), dtype=np.int8)


def tflm_outputs(model_bytes: bytes, vectors: np.ndarray) -> np.ndarray:
    """TFLite Micro's int8 output codes for int8 input codes. Float-I/O models get the codes dequantized
    (their QUANTIZE gives the same codes back) and their float outputs re-quantized (exact: DEQUANTIZE's
    result divided by its scale is within 1e-4 of the code)."""
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.learn.tflm import tflm_predict

    g = read_tflite(model_bytes)
    inner = strip_float_io(g)
    if vectors.shape[0] == 0:  # nothing to run (TFLM's outputs cannot be reshaped to 0 rows)
        return np.zeros((0, int(np.prod(inner.tensor(inner.outputs[0]).shape))), np.int8)
    x: np.ndarray = vectors
    if g.tensor(g.inputs[0]).dtype == "float32":
        t = inner.tensor(inner.inputs[0])
        x = ((vectors.astype(np.float32) - np.float32(t.zero_point[0])) * np.float32(t.scale[0])).astype(np.float32)
    out = np.asarray(tflm_predict(model_bytes, x)).reshape(vectors.shape[0], -1)
    if g.tensor(g.outputs[0]).dtype == "float32":
        t = inner.tensor(inner.outputs[0])
        out = np.clip(np.round(out.astype(np.float64) / float(t.scale[0])) + int(t.zero_point[0]), -128, 127)
    return np.asarray(out).astype(np.int8)


def reference_outputs(model_bytes: bytes, vectors: np.ndarray) -> np.ndarray | None:
    """The numpy reference interpreter's outputs, or None while it is not available."""
    try:
        from crisp_eml.compiler.reference import run_reference  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.reader import read_tflite

    g = strip_float_io(read_tflite(model_bytes))
    shape = g.tensor(g.inputs[0]).shape
    rows = [np.asarray(run_reference(g, [v.reshape(shape)])[0], np.int8).reshape(-1) for v in vectors]
    return np.array(rows, np.int8)


def load_vectors(lib_dir: Path) -> tuple[np.ndarray, np.ndarray, bytes, dict[str, Any]]:
    try:
        manifest = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"not a generated library (MANIFEST.json missing or unreadable: {exc})",
                         source=str(lib_dir)) from exc
    if not isinstance(manifest, dict):
        raise InputError("MANIFEST.json is not a JSON object", source=str(lib_dir / "MANIFEST.json"))
    if manifest.get("kind") == "anomaly":
        raise InputError("an anomaly library has no int8 test vectors (its float test windows are checked by "
                         "'eml verify DIR')", source=str(lib_dir))
    try:
        n_in = int(np.prod(manifest["inputs"][0]["shape"]))
        n_out = int(np.prod(manifest["outputs"][0]["shape"]))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(f"malformed inputs/outputs shapes ({type(exc).__name__}: {exc}); re-run 'eml compile'",
                         source=str(lib_dir / "MANIFEST.json"), field="inputs") from exc
    try:
        vec = np.frombuffer((lib_dir / VECTORS).read_bytes(), np.int8).reshape(-1, n_in)
        exp = np.frombuffer((lib_dir / EXPECTED).read_bytes(), np.int8).reshape(-1, n_out)
        model = (lib_dir / MODEL).read_bytes()
    except (OSError, ValueError) as exc:
        raise InputError(f"test vectors missing or malformed ({exc}); re-run 'eml compile --vectors K'",
                         source=str(lib_dir)) from exc
    return vec, exp, model, manifest


def _compare(name: str, got: np.ndarray, want: np.ndarray, **detail: Any) -> Check:
    same_shape = got.shape == want.shape
    mism = int((got != want).sum()) if same_shape else int(want.size)
    return Check(name, int(want.shape[0]), mism, same_shape and mism == 0, detail)


def verify_library(lib_dir: Path, *, host: bool = True, sanitize: bool = True, target: str | None = None,
                   work: Path | None = None) -> VerifyReport:
    """Every check compares the C outputs with TFLite Micro's outputs computed now (and stored at compile);
    an anomaly library (MANIFEST kind "anomaly") is compared with its Python model instead."""
    build.library_name(lib_dir)
    head = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    if head.get("kind") == "anomaly":
        from crisp_eml.compiler.anomaly_verify import verify_anomaly_library

        with tempfile.TemporaryDirectory(prefix="eml-verify-") as tmp:
            return verify_anomaly_library(lib_dir, head, host=host, sanitize=sanitize, target=target,
                                          work=work or Path(tmp))
    vec, expected, model, manifest = load_vectors(lib_dir)
    n_out = expected.shape[1]
    note = None
    if vec.shape[0] == 0:  # compiled with --vectors 0: check fresh vectors against the model the library carries
        vec = random_vectors(vec.shape[1], FRESH_VECTORS)
        note = (f"the library stores no test vectors (compiled with --vectors 0): checked {FRESH_VECTORS} freshly "
                "generated random vectors against its model; nothing stored to compare TFLite Micro with")
    live = tflm_outputs(model, vec)
    checks = [] if note else [_compare("tflm-now-vs-stored", live, expected)]
    ref = reference_outputs(model, vec)
    if ref is not None:
        checks.append(_compare("reference-vs-tflm", ref, live))
    with tempfile.TemporaryDirectory(prefix="eml-verify-") as tmp:
        wdir = work or Path(tmp)
        if host:
            exe = build.host_build(lib_dir, wdir / "host")
            out, _ = build.host_run(exe, vec, n_out)
            checks.append(_compare("host-gcc-vs-tflm", out, live))
            if sanitize:
                exe = build.host_build(lib_dir, wdir / "asan", sanitize=True, opt="-O1")
                out, _ = build.host_run(exe, vec, n_out)
                checks.append(_compare("host-asan-ubsan-vs-tflm", out, live))
        if target is not None:
            if target != "cortex-m4":
                raise InputError(f"unknown verification target {target!r}; supported: cortex-m4", field="target")
            res = run_cortex_m4(lib_dir, vec, wdir / "m4")
            checks.append(_compare("cortex-m4-qemu-vs-tflm", res["outputs"], live,
                                   instructions_per_inference=res["instructions_per_inference"],
                                   sizes=res["sizes"]))
    return VerifyReport(str(manifest.get("name", lib_dir.name)), checks, note)


def run_cortex_m4(lib_dir: Path, vectors: np.ndarray, wdir: Path, *, iterations: int = 1) -> dict[str, Any]:
    """Build + run on QEMU; outputs, instructions per inference and library section sizes."""
    manifest = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    n_out = int(np.prod(manifest["outputs"][0]["shape"]))
    elf = build.m4_build(lib_dir, wdir, vectors, iterations=iterations)
    res = build.qemu_run(elf, n_out)
    lib_objs = [wdir / (p.stem + ".o") for p in sorted((lib_dir / "src").glob("*.c"))]
    sizes = build.section_sizes(lib_objs)
    instr = res.instructions
    return {"outputs": res.outputs, "instructions_per_inference": int(np.median(instr)) if instr else None,
            "ticks_per_instruction": res.ticks_per_instruction, "sizes": sizes,
            "flash_bytes": sizes["text"] + sizes["rodata"] + sizes["data"],
            "static_ram_bytes": sizes["data"] + sizes["bss"], "stack_bytes_max": build.stack_usage(lib_objs)}
