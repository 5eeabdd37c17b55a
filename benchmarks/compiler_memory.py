"""Benchmark: our arena (memory planner with in-place ops) vs TFLite Micro's smallest arena, same run.

The anchor is TFLite Micro itself: the smallest ``arena_size`` with which ``tflite_micro.runtime``
allocates and invokes the model, found by bisection in this run
(:func:`crisp_eml.learn.tflm.tflm_min_arena`, the figure ``eml`` itself reports). Our figures come from
``plan_memory``: the arena with in-place reuse, the greedy-by-size arena without it and the peak of
simultaneously live activations (a lower bound for any non-overlapping plan). TFLM's arena also holds
its own bookkeeping, so the comparison is "bytes of RAM the model needs" for each runtime. Every plan is
executed in a flat arena (``check_plan``) and compared with the reference interpreter before it counts.
Also prints the numpy reference interpreter's time per inference next to TFLM's ``invoke()``.

Run: .venv/bin/python benchmarks/compiler_memory.py [--models DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from timing import best_of


def main() -> None:
    from tflite_micro import runtime

    from crisp_eml.compiler.arena_check import check_plan
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.reference import run_reference
    from crisp_eml.learn.tflm import tflm_min_arena

    default = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "models" / \
        "mlperf-tiny"
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, default=default)
    args = ap.parse_args()
    print(f"{'model':<16}{'TFLM arena':>12}{'ours':>8}{'ratio':>8}{'greedy':>8}{'live peak':>11}"
          f"{'plan ms':>9}{'ref ms':>8}{'TFLM ms':>9}")
    for path in sorted(args.models.glob("*.tflite")):
        data = path.read_bytes()
        g = read_tflite(data, source=path.name)
        t0 = time.perf_counter()
        plan = plan_memory(g)
        plan_ms = (time.perf_counter() - t0) * 1e3
        x = np.random.default_rng(0).integers(-128, 128, size=g.tensor(g.inputs[0]).shape, dtype=np.int8)
        assert all(np.array_equal(a, b) for a, b in zip(check_plan(g, plan, [x]), run_reference(g, [x]),
                                                         strict=True))
        tflm = tflm_min_arena(data)
        it = runtime.Interpreter.from_bytes(data, arena_size=4 * tflm)
        it.set_input(x, 0)
        tflm_ms = best_of(it.invoke, 20) * 1e3
        ref_ms = best_of(lambda: run_reference(g, [x]), 20) * 1e3  # noqa: B023
        print(f"{path.stem:<16}{tflm:>12}{plan.arena_bytes:>8}{plan.arena_bytes / tflm:>8.3f}"
              f"{plan.greedy_bytes:>8}{plan.peak_live_bytes:>11}{plan_ms:>9.1f}{ref_ms:>8.2f}{tflm_ms:>9.2f}")


if __name__ == "__main__":
    main()
