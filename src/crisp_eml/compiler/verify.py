"""Check a generated library byte for byte against TFLite Micro (and the Python reference interpreter).

Vectors are packed rows: every input's codes (int8 or int16, little-endian) one after the other in graph order,
``input_bytes`` bytes (likewise the outputs), the layout of ``tests/vectors.bin``/``expected.bin`` and of
``<name>_invoke_packed``. Host: gcc ``-Werror`` build, run on the library's test vectors; once more under
ASan/UBSan. Cortex-M4: arm-none-eabi-gcc build for QEMU ``mps2-an386``, run with semihosting; also reports
sizes and instructions executed per inference (SysTick under ``-icount shift=0``, calibrated in the same run).
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
from crisp_eml.core.graph import Graph, Tensor

VECTORS = "tests/vectors.bin"
EXPECTED = "tests/expected.bin"
MODEL = "tests/model.tflite"
#: Random vectors ``verify_library`` checks when the library stores none (compiled with ``--vectors 0``).
FRESH_VECTORS = 8


def random_vectors(n_in: int, k: int, seed: int = 0) -> np.ndarray:
    """``k`` random packed input rows of ``n_in`` bytes (``input_bytes``: all inputs' codes in graph order)."""
    return np.random.default_rng(seed).integers(-128, 128, (k, n_in), dtype=np.int8)


def io_layout(tensors: list[Tensor]) -> list[tuple[str, tuple[int, ...]]]:
    """(dtype, shape) of each tensor, in order: how a packed row splits."""
    return [(t.dtype, tuple(t.shape)) for t in tensors]


def io_bytes(layout: list[tuple[str, tuple[int, ...]]]) -> int:
    return sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize for dt, shape in layout)


def split_row(row: np.ndarray, layout: list[tuple[str, tuple[int, ...]]]) -> list[np.ndarray]:
    """One packed row (bytes) -> one array per tensor, in its dtype (little-endian) and shape."""
    raw = np.ascontiguousarray(row).view(np.uint8).tobytes()
    out, off = [], 0
    for dt, shape in layout:
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
        out.append(np.frombuffer(raw[off:off + n], np.dtype(dt).newbyteorder("<")).astype(dt).reshape(shape))
        off += n
    return out


def pack_row(arrays: list[np.ndarray]) -> np.ndarray:
    """Arrays (int8/int16) -> one packed row of bytes as int8, little-endian, in order."""
    raw = b"".join(np.ascontiguousarray(a).astype(np.asarray(a).dtype.newbyteorder("<")).tobytes() for a in arrays)
    return np.frombuffer(raw, np.int8)


def _inner(model_bytes: bytes) -> tuple[Graph, Graph]:
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.reader import read_tflite

    g = read_tflite(model_bytes)
    return g, strip_float_io(g)


def tflm_outputs(model_bytes: bytes, vectors: np.ndarray) -> np.ndarray:
    """TFLite Micro's packed output codes (K, output_bytes) for packed input codes (K, input_bytes), any number
    of int8/int16 inputs and outputs. Float-I/O models get the codes dequantized (their QUANTIZE gives the same
    codes back) and their float outputs re-quantized (exact: DEQUANTIZE's result divided by its scale is within
    1e-4 of the code)."""
    from crisp_eml.learn.tflm import _runtime, check_model

    g, inner = _inner(model_bytes)
    ins = [inner.tensor(i) for i in inner.inputs]
    outs = [inner.tensor(i) for i in inner.outputs]
    n_out = io_bytes(io_layout(outs))
    if vectors.shape[0] == 0:  # nothing to run
        return np.zeros((0, n_out), np.int8)
    from crisp_eml.compiler.tflm_fix import tflm_batch_fixed

    runnable = tflm_batch_fixed(model_bytes)  # open-batch dilated convs: their space-to-batch shapes (see there)
    it = _runtime().Interpreter.from_bytes(runnable, arena_size=check_model(runnable))
    rows = []
    for row in vectors:
        for k, (x, t) in enumerate(zip(split_row(row, io_layout(ins)), ins, strict=True)):
            if g.tensor(g.inputs[k]).dtype == "float32":
                x = ((x.astype(np.float32) - np.float32(t.zero_point[0])) * np.float32(t.scale[0])).astype(np.float32)
            it.set_input(x, k)
        it.invoke()
        ys = []
        for k, t in enumerate(outs):
            y = np.asarray(it.get_output(k)).reshape(t.shape)
            if g.tensor(g.outputs[k]).dtype == "float32":
                lim = np.iinfo(t.dtype)
                y = np.clip(np.round(y.astype(np.float64) / float(t.scale[0])) + int(t.zero_point[0]), lim.min,
                            lim.max)
            ys.append(np.asarray(y).astype(t.dtype))
        rows.append(pack_row(ys))
    return np.array(rows, np.int8).reshape(len(rows), n_out)


def reference_outputs(model_bytes: bytes, vectors: np.ndarray) -> np.ndarray | None:
    """The numpy reference interpreter's packed outputs, or None while it is not available."""
    try:
        from crisp_eml.compiler.reference import run_reference  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    _, g = _inner(model_bytes)
    ins = io_layout([g.tensor(i) for i in g.inputs])
    n_out = io_bytes(io_layout([g.tensor(i) for i in g.outputs]))
    rows = [pack_row([np.asarray(y) for y in run_reference(g, split_row(v, ins))]) for v in vectors]
    return np.array(rows, np.int8).reshape(len(rows), n_out)


def manifest_io_bytes(manifest: dict[str, Any], kind: str) -> int:
    """Bytes of one packed row of ``kind`` ("input"/"output"): the manifest's ``input_bytes``/``output_bytes``,
    else (libraries written before them) computed from its tensor list."""
    if f"{kind}_bytes" in manifest:
        return int(manifest[f"{kind}_bytes"])
    return io_bytes([(str(t.get("dtype", "int8")), tuple(int(d) for d in t["shape"])) for t in manifest[f"{kind}s"]])


def load_vectors(lib_dir: Path) -> tuple[np.ndarray, np.ndarray, bytes, dict[str, Any]]:
    """(packed input rows, packed expected output rows, the model's bytes, the manifest) of a library."""
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
        n_in = manifest_io_bytes(manifest, "input")
        n_out = manifest_io_bytes(manifest, "output")
        if n_in <= 0 or n_out <= 0:
            raise ValueError("empty input or output")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
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
            from crisp_eml.compiler.c.boards import BOARDS

            if target not in BOARDS:
                raise InputError(f"unknown verification target {target!r}; supported: {', '.join(BOARDS)}",
                                 field="target")
            res = build.run_board(lib_dir, vec, wdir / target, board=target)
            checks.append(_compare(f"{target}-qemu-vs-tflm", res["outputs"], live,
                                   instructions_per_inference=res["instructions_per_inference"],
                                   sizes=res["sizes"]))
    return VerifyReport(str(manifest.get("name", lib_dir.name)), checks, note)


def run_cortex_m4(lib_dir: Path, vectors: np.ndarray, wdir: Path, *, iterations: int = 1) -> dict[str, Any]:
    """Build + run on QEMU; outputs, instructions per inference and library section sizes."""
    manifest = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    n_out = manifest_io_bytes(manifest, "output")
    elf = build.m4_build(lib_dir, wdir, vectors, iterations=iterations)
    res = build.qemu_run(elf, n_out)
    lib_objs = [wdir / (p.stem + ".o") for p in sorted((lib_dir / "src").glob("*.c"))]
    sizes = build.section_sizes(lib_objs)
    instr = res.instructions
    return {"outputs": res.outputs, "instructions_per_inference": int(np.median(instr)) if instr else None,
            "ticks_per_instruction": res.ticks_per_instruction, "sizes": sizes,
            "flash_bytes": sizes["text"] + sizes["rodata"] + sizes["data"],
            "static_ram_bytes": sizes["data"] + sizes["bss"], "stack_bytes_max": build.stack_usage(lib_objs)}
