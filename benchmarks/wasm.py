"""Benchmark: WebAssembly inference speed vs the native library on the same machine (issue 13: expect 1.5-3x).

Compiles MLPerf Tiny KWS, builds the ``wasm`` deployment twice (WebAssembly SIMD, the default; and the portable C
loops) and the same C natively with ``gcc -O2`` (the x86-64 build takes the SSE2 path), then times one
``classify`` of a 490-feature window (the MFCCs of a spoken word, and random features): natively through
``eml_model_classify`` in a C loop, and under Node through the generated ES module (``model.classify``: copy in,
run, scores out). Both sides count the process's CPU time (not wall time: the machine is shared), each a few
times, interleaved; the fastest run counts.

    .venv/bin/python benchmarks/wasm.py [--iterations N] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KWS = ROOT.parent / "shared" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
DRIVER = ROOT / "tests" / "runtime" / "wasm_driver.mjs"
ROUNDS = 5

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "eml_model.h"
int main(int argc, char **argv)
{
    static float x[EML_MODEL_RAW_LEN];
    eml_model_output_t out;
    long i, n = argc > 2 ? atol(argv[2]) : 1000;
    struct timespec a, b;
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL || fread(x, sizeof(float), EML_MODEL_RAW_LEN, f) != EML_MODEL_RAW_LEN || eml_model_init() != 0) {
        return 2;
    }
    fclose(f);
    for (i = 0; i < 50; i++) {
        eml_model_classify(x, EML_MODEL_RAW_LEN, &out);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (i = 0; i < n; i++) {
        if (eml_model_classify(x, EML_MODEL_RAW_LEN, &out) != 0) {
            return 3;
        }
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    printf("{\"us_per_classify\": %.3f}\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec))
           / 1e3 / (double)n);
    return 0;
}
"""


def _native(lib: Path, work: Path) -> Path:
    from crisp_eml.runtime.build import stage_sources

    sources = stage_sources(lib, work / "src")
    (work / "bench.c").write_text(HARNESS, encoding="utf-8")
    exe = work / "bench"
    subprocess.run(["gcc", "-std=c99", "-O2", "-D_POSIX_C_SOURCE=200809L", "-I", str(work / "src"),
                    *map(str, sources), str(work / "bench.c"), "-o", str(exe), "-lm"], check=True)
    return exe


def _time(cmd: list[str]) -> float:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["us_per_classify"])


def _inputs(tmp: Path) -> dict[str, np.ndarray]:
    """The window to time: the MFCC features of a spoken "yes" (espeak-ng, the golden tests' frontend: in
    distribution) and random features (the native build's speed depends on the data, the wasm one's hardly)."""
    out = {"random": np.random.default_rng(0).normal(0, 10, 490).astype(np.float32)}
    if shutil.which("espeak-ng") is not None:
        sys.path[:0] = [str(ROOT / "tests" / "golden"), str(ROOT / "tests")]  # kws_speech imports conftest
        from kws_speech import mlperf_mfcc, one_second, speak

        speech = mlperf_mfcc(one_second(speak("yes", tmp), np.random.default_rng(17)))
        out = {"speech": speech.astype(np.float32).ravel(), **out}
    return out


def measure(iterations: int = 1000) -> dict[str, Any]:
    """CPU microseconds per KWS classify: native (gcc -O2), wasm SIMD and wasm portable under Node, per input
    window (speech MFCCs when espeak-ng is installed, random features); the wasm/native ratios."""
    from crisp_eml.runtime.wasm_build import build_wasm
    from crisp_eml.workspace.compile import compile_model

    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed (Debian: apt-get install nodejs)")
    kinds = ("native", "wasm_simd", "wasm_portable")
    with tempfile.TemporaryDirectory(prefix="eml-bench-wasm-") as tmp:
        t = Path(tmp)
        compile_model(str(KWS), t / "lib", use_project=False, vectors=0)
        build_wasm(t / "lib", t / "simd")
        build_wasm(t / "lib", t / "portable", simd=False)
        exe = _native(t / "lib", t / "native")
        inputs = _inputs(t)
        runs: dict[str, dict[str, list[float]]] = {name: {k: [] for k in kinds} for name in inputs}
        for _ in range(ROUNDS):
            for name, x in inputs.items():
                x.tofile(t / f"{name}.f32")
                runs[name]["native"].append(_time([str(exe), str(t / f"{name}.f32"), str(iterations)]))
                for kind, d in (("wasm_simd", "simd"), ("wasm_portable", "portable")):
                    runs[name][kind].append(_time([node, str(DRIVER), str(t / d / "kws_ref_model.mjs"), "bench",
                                                   str(t / f"{name}.f32"), str(iterations)]))
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {"model": "mlperf-tiny kws_ref_model", "iterations": iterations, "node": node_version,
                              "inputs": {}}
    for name, per_kind in runs.items():
        best = {k: min(v) for k, v in per_kind.items()}
        result["inputs"][name] = {
            "us_per_classify": {k: round(v, 1) for k, v in best.items()},
            "ratio_wasm_simd_vs_native": round(best["wasm_simd"] / best["native"], 2),
            "ratio_wasm_portable_vs_native": round(best["wasm_portable"] / best["native"], 2),
            "runs_us": {k: [round(x, 1) for x in v] for k, v in per_kind.items()}}
    headline = result["inputs"].get("speech") or result["inputs"]["random"]
    result["ratio_wasm_simd_vs_native"] = headline["ratio_wasm_simd_vs_native"]
    result["ratio_wasm_portable_vs_native"] = headline["ratio_wasm_portable_vs_native"]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    r = measure(args.iterations)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"KWS classify, CPU time, {r['iterations']} iterations, best of {ROUNDS} ({r['node']}):")
    for name, res in r["inputs"].items():
        us = res["us_per_classify"]
        print(f"  {name} input: native gcc -O2 {us['native']:.1f} us; wasm SIMD (default) {us['wasm_simd']:.1f} us "
              f"= {res['ratio_wasm_simd_vs_native']:.2f}x native; wasm portable C {us['wasm_portable']:.1f} us "
              f"= {res['ratio_wasm_portable_vs_native']:.2f}x native")
    return 0


if __name__ == "__main__":
    sys.exit(main())
