"""Benchmark of the deployment runtimes (issue 13), every figure and ratio measured in the same run:

(a) continuous inference on a 1-hour 16 kHz stream with the MLPerf Tiny KWS network behind an MFCC step in C
    (30 ms frames every 20 ms, 10 of 40 cepstra: exactly the model's 49 x 10 inputs), through the stream driver
    (``Engine.open_stream().push``, a result every 250 ms with post-processing), one core: CPU seconds and
    "x real time" (goal >= 200x);
(b) the ``.eim`` round trip (``classify`` of one 490-feature window over the Unix socket, the features-in KWS
    library, a bare socket client with pre-encoded requests) vs the bare library call (``eml_model_classify``
    in a C loop, same flags as the runner: ``gcc -O2``): latency percentiles, throughput, and the ratio of the
    round trip to ``1.5 x bare + 200 us`` (goal <= 1);
(c) WebAssembly vs native: ``benchmarks/wasm.py``'s ``measure()`` (skipped with ``--no-wasm``).

Times are never asserted. Audio is a gliding tone in bursts plus noise (16-bit steps); the stream is generated
in 60 s chunks so memory stays small.

    .venv/bin/python benchmarks/runtime.py [--seconds 3600] [--requests 2000] [--no-wasm] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KWS = ROOT.parent / "shared" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
LABELS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown"]
FS = 16000
MFCC = {"input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": FS, "axes": ["audio"]},
        "blocks": [{"type": "mfcc", "params": {"frame_length": 0.03, "frame_stride": 0.02, "num_cepstral": 10,
                                               "num_filters": 40, "fft_length": 512, "win_size": 0}}]}

BARE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "eml_model.h"
int main(int argc, char **argv)
{
    static float x[EML_MODEL_RAW_LEN];
    eml_model_output_t out;
    struct timespec t0, t1;
    long i, n = atol(argv[2]);
    FILE *f = fopen(argv[1], "rb");
    if (argc < 3 || f == NULL || fread(x, sizeof(float), EML_MODEL_RAW_LEN, f) != EML_MODEL_RAW_LEN
        || eml_model_init() != 0) {
        return 2;
    }
    for (i = 0; i < n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (eml_model_classify(x, EML_MODEL_RAW_LEN, &out) != 0) {
            return 3;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%ld\n", (long)((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec)));
    }
    return 0;
}
"""


def mfcc_library(out: Path) -> Path:
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library

    g = strip_float_io(read_tflite(KWS.read_bytes()))
    write_tree(render_library(g, plan_memory(g), RenderOptions(name="kws_mfcc", labels=LABELS, dsp=MFCC)), out)
    return out


def _audio(start_s: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = start_s + np.arange(int(seconds * FS)) / FS
    x = 0.3 * np.sin(2 * np.pi * (300 + 200 * np.sin(2 * np.pi * t / 7.0)) * t) * (np.sin(2 * np.pi * t / 3.3) > 0.3)
    x = x + 0.01 * rng.standard_normal(t.size)
    return (np.round(np.clip(x, -1, 0.999) * 32768) / 32768).astype(np.float32).reshape(-1, 1)


def continuous(lib: Path, seconds: int) -> dict[str, Any]:
    from crisp_eml.runtime.engine import Engine

    rng = np.random.default_rng(0)
    cpu = wall = 0.0
    steps = detections = 0
    with Engine(lib, slices_per_window=4) as eng:
        stream = eng.open_stream()
        for start in range(0, seconds, 60):
            chunk = _audio(start, min(60, seconds - start), rng)
            c0, w0 = time.process_time(), time.perf_counter()
            r = stream.push(chunk)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            steps += len(r.end_rows)
            detections += int((r.detections >= 0).sum())
    return {"audio_s": seconds, "windows": steps, "detections": detections, "cpu_s": round(cpu, 2),
            "wall_s": round(wall, 2), "x_real_time": round(seconds / cpu, 1),
            "us_per_window": round(1e6 * cpu / max(1, steps), 1), "goal_x_real_time": 200}


def _pct(ns: np.ndarray) -> dict[str, float]:
    return {f"p{p}_us": round(float(np.percentile(ns, p)) / 1000, 1) for p in (50, 95, 99)}


def bare(lib: Path, work: Path, x: np.ndarray, n: int) -> np.ndarray:
    from crisp_eml.runtime.build import stage_sources

    sources = stage_sources(lib, work / "src")
    (work / "bare.c").write_text(BARE, encoding="utf-8")
    exe = work / "bare"
    subprocess.run(["gcc", "-std=c99", "-O2", "-D_POSIX_C_SOURCE=200809L", "-I", str(work / "src"),
                    *map(str, sources), str(work / "bare.c"), "-o", str(exe), "-lm"], check=True)
    x.astype("<f4").tofile(work / "x.f32")
    out = subprocess.run([str(exe), str(work / "x.f32"), str(n)], capture_output=True, text=True, check=True).stdout
    return np.array([int(v) for v in out.split()], dtype=np.int64)


def eim_round_trips(lib: Path, work: Path, x: np.ndarray, n: int) -> np.ndarray:
    from crisp_eml.runtime.build import build_program

    exe = build_program(lib, "eim", work / "kws.eim")
    sock_path = work / "eim.sock"
    proc = subprocess.Popen([str(exe), str(sock_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not sock_path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the .eim runner did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.01)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(sock_path))
        body = b'{"classify":' + json.dumps([float(v) for v in x]).encode() + b',"id":'

        def call(payload: bytes) -> bytes:
            s.sendall(payload)
            buf = b""
            while not buf.endswith(b"\0"):
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit("the .eim runner closed the connection")
                buf += chunk
            return buf

        assert b'"success":true' in call(b'{"hello":1,"id":1}')
        reqs = [body + str(i + 2).encode() + b"}" for i in range(n + 50)]
        for r in reqs[:50]:  # warm-up
            call(r)
        out = np.empty(n, np.int64)
        for i, r in enumerate(reqs[50:]):
            t0 = time.perf_counter_ns()
            reply = call(r)
            out[i] = time.perf_counter_ns() - t0
        assert b'"success":true' in reply, reply[:200]
        s.close()
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def eim_vs_bare(lib: Path, n: int) -> dict[str, Any]:
    x = np.random.default_rng(1).normal(-10, 25, 490).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="eml-bench-eim-") as tmp:
        b = bare(lib, Path(tmp) / "bare", x, n)
        e = eim_round_trips(lib, Path(tmp), x, n)
    bp, ep = _pct(b), _pct(e)
    budget = 1.5 * bp["p50_us"] + 200
    return {"requests": n, "bare": bp, "eim": ep,
            "eim_throughput_per_s": round(1e9 / float(np.mean(e)), 1),
            "bare_throughput_per_s": round(1e9 / float(np.mean(b)), 1),
            "ratio_p50": round(ep["p50_us"] / bp["p50_us"], 3),
            "goal_p50_us": round(budget, 1), "p50_over_goal": round(ep["p50_us"] / budget, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=3600, help="stream length for (a)")
    ap.add_argument("--requests", type=int, default=2000, help="classify calls for (b)")
    ap.add_argument("--wasm-iterations", type=int, default=300)
    ap.add_argument("--no-wasm", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from crisp_eml.workspace.compile import compile_model

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="eml-bench-runtime-") as tmp:
        t = Path(tmp)
        result["continuous"] = continuous(mfcc_library(t / "mfcc"), args.seconds)
        compile_model(str(KWS), t / "features", vectors=0, labels=LABELS, use_project=False)
        result["eim"] = eim_vs_bare(t / "features", args.requests)
    if not args.no_wasm:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        try:
            from wasm import measure  # type: ignore[import-not-found]
        except ImportError:
            result["wasm"] = "benchmarks/wasm.py has no measure()"
        else:
            result["wasm"] = measure(args.wasm_iterations)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    c, e = result["continuous"], result["eim"]
    print(f"(a) continuous, KWS + MFCC in C, {c['audio_s']} s of 16 kHz audio, {c['windows']} windows: "
          f"{c['cpu_s']} s CPU ({c['us_per_window']} us/window) -> {c['x_real_time']}x real time (goal >= 200x)")
    print(f"(b) .eim round trip p50/p95/p99 {e['eim']['p50_us']}/{e['eim']['p95_us']}/{e['eim']['p99_us']} us, "
          f"{e['eim_throughput_per_s']}/s; bare call {e['bare']['p50_us']}/{e['bare']['p95_us']}/"
          f"{e['bare']['p99_us']} us; ratio p50 {e['ratio_p50']}x; goal 1.5 x bare + 200 us = {e['goal_p50_us']} us "
          f"-> {e['p50_over_goal']} of the budget")
    if isinstance(result.get("wasm"), dict):
        print("(c) wasm vs native:", json.dumps(result["wasm"].get("inputs", result["wasm"])))
    elif "wasm" in result:
        print("(c)", result["wasm"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
