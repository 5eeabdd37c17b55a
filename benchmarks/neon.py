"""Benchmark: does the aarch64 NEON kernel path pay? NEON vs ``-DEML_NO_SIMD`` on the MLPerf Tiny models.

Both builds are ``aarch64-linux-gnu-gcc -O2 -march=armv8-a -static`` (baseline armv8-a, as in
``tests/golden/test_c_neon.py``) of the same generated library with the generated host runner, run under
``qemu-aarch64 -cpu cortex-a53``. QEMU's wall time is not the board's (TCG emulates NEON with helpers, so NEON
looks slower there than it is), so the figure that counts is **instructions per inference**, counted with a
QEMU TCG plugin: the system's ``libinsn.so`` when one is installed, else a 30-line plugin built here with the
host gcc (QEMU's plugin ABI, version 1). Per inference = (count with N timed iterations - count with 0) / N, so
start-up and file I/O cancel out. The qemu wall-time ratio is printed too, labelled as such. Both builds'
outputs are compared byte for byte first.

    .venv/bin/python benchmarks/neon.py [--models kws_ref_model,ad01_int8] [--iterations 20] [--json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler.insn_plugin import PLUGIN_C  # counts every executed instruction (its total mode)

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CC, QEMU = "aarch64-linux-gnu-gcc", "qemu-aarch64"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-march=armv8-a", "-static"]
QEMU_CPU = ["-cpu", "cortex-a53"]
WALL_ROUNDS = 3



def _need(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"'{name}' is missing: install the Debian packages gcc-aarch64-linux-gnu and qemu-user")
    return path


def _render(model: Path, out: Path) -> tuple[str, int, int]:
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library

    g = strip_float_io(read_tflite(model.read_bytes()))
    name = model.stem.replace("-", "_")
    write_tree(render_library(g, plan_memory(g), RenderOptions(name=name)), out)
    size = [int(np.prod(g.tensor(t).shape)) for t in (g.inputs[0], g.outputs[0])]
    return name, size[0], size[1]


def _build(lib: Path, name: str, out: Path, defines: list[str]) -> Path:
    from crisp_eml.compiler.c.runner import host_runner

    out.mkdir(parents=True, exist_ok=True)
    (out / "runner.c").write_text(host_runner(name), encoding="utf-8")
    exe = out / "runner"
    srcs = [str(p) for p in sorted((lib / "src").glob("*.c"))]
    subprocess.run([_need(CC), *CFLAGS, *defines, f"-I{lib / 'src'}", *srcs, str(out / "runner.c"), "-o", str(exe),
                    "-lm"], check=True)
    return exe


def _plugin(work: Path) -> Path | None:
    """A working instruction-count plugin: the system's libinsn.so, else ours; None when QEMU loads neither."""
    found = sorted(glob.glob("/usr/lib/*/qemu/**/libinsn.so", recursive=True) +
                   glob.glob("/usr/lib*/qemu/**/libinsn.so", recursive=True) +
                   glob.glob("/usr/libexec/qemu/**/libinsn.so", recursive=True))
    candidates = [Path(p) for p in found]
    if shutil.which("gcc"):
        (work / "insn.c").write_text(PLUGIN_C, encoding="utf-8")
        r = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-fvisibility=hidden", str(work / "insn.c"),
                            "-o", str(work / "libinsn.so")], capture_output=True, text=True)
        if r.returncode == 0:
            candidates.append(work / "libinsn.so")
    (work / "probe.c").write_text("int main(void)\n{\n    return 0;\n}\n", encoding="utf-8")
    subprocess.run([_need(CC), *CFLAGS, str(work / "probe.c"), "-o", str(work / "probe")], check=True)
    for c in candidates:
        r = subprocess.run([_need(QEMU), "-plugin", str(c), str(work / "probe")], capture_output=True, text=True)
        if r.returncode == 0 and re.search(r"insns: \d+", r.stderr + r.stdout):
            return c
    return None


def _run(exe: Path, vec: Path, iterations: int, plugin: Path | None) -> tuple[int | None, float | None]:
    cmd = [_need(QEMU), *QEMU_CPU, *(["-plugin", str(plugin)] if plugin else []), str(exe), str(vec),
           str(exe.parent / "out.bin"), str(iterations)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    insns = re.search(r"insns: (\d+)", r.stderr + r.stdout)
    ns = re.search(r"ns_per_inference ([0-9.]+)", r.stdout)
    return (int(insns.group(1)) if insns else None), (float(ns.group(1)) if ns and iterations else None)


def bench_model(model: Path, work: Path, iterations: int, plugin: Path | None) -> dict[str, Any]:
    name, n_in, n_out = _render(model, work / "lib")
    vec = work / "vec.bin"
    vec.write_bytes(np.random.default_rng(0).integers(-128, 128, n_in, dtype=np.int8).tobytes())
    res: dict[str, Any] = {"model": model.stem}
    outs = {}
    for tag, defines in (("neon", []), ("portable", ["-DEML_NO_SIMD"])):
        exe = _build(work / "lib", name, work / tag, defines)
        if plugin is not None:
            base, _ = _run(exe, vec, 0, plugin)
            full, _ = _run(exe, vec, iterations, plugin)
            if base is not None and full is not None:
                res[f"{tag}_insns"] = (full - base) / iterations
        walls = [_run(exe, vec, 10 * iterations, None)[1] for _ in range(WALL_ROUNDS)]
        res[f"{tag}_qemu_us"] = min(w for w in walls if w is not None) / 1000.0
        outs[tag] = (exe.parent / "out.bin").read_bytes()
        assert len(outs[tag]) == n_out
    res["bit_exact"] = outs["neon"] == outs["portable"]
    if "neon_insns" in res and "portable_insns" in res:
        res["insns_ratio"] = res["portable_insns"] / res["neon_insns"]
    res["qemu_wall_ratio"] = res["portable_qemu_us"] / res["neon_qemu_us"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kws_ref_model,ad01_int8")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="eml-neon-") as tmp:
        work = Path(tmp)
        plugin = _plugin(work)
        for m in args.models.split(","):
            path = SHARED / "models" / "mlperf-tiny" / f"{m}.tflite"
            if not path.exists():
                print(f"{m}: {path} not found, skipped")
                continue
            rows.append(bench_model(path, work / m, args.iterations, plugin))
    if args.json:
        print(json.dumps({"plugin": str(plugin) if plugin else None, "models": rows}, indent=2))
        return
    print(f"aarch64 -O2 -march=armv8-a, qemu-aarch64 -cpu cortex-a53; instruction counts: "
          f"{'TCG plugin' if plugin else 'no working plugin (wall time only)'}")
    for r in rows:
        line = f"{r['model']}: bit-exact {r['bit_exact']}"
        if "insns_ratio" in r:
            line += (f"; instructions/inference NEON {r['neon_insns'] / 1e6:.3f} M, EML_NO_SIMD "
                     f"{r['portable_insns'] / 1e6:.3f} M -> {r['insns_ratio']:.2f}x fewer")
        line += (f"; qemu wall (not the device's) NEON {r['neon_qemu_us']:.0f} us, EML_NO_SIMD "
                 f"{r['portable_qemu_us']:.0f} us -> ratio {r['qemu_wall_ratio']:.2f}")
        print(line)


if __name__ == "__main__":
    main()
