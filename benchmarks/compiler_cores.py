"""Benchmark: instructions per inference of the generated C on every core QEMU emulates here (measured, not CPI).

For each model (MLPerf Tiny KWS and AD01 by default) the library's ``src/`` is built at -O2 for each board of
``crisp_eml.compiler.c.boards`` (Cortex-M0 micro:bit, M3 AN385, M4 AN386, M7 AN500, M33 AN505 secure, M55 AN547
with Helium, RISC-V rv32imac ``virt``), run under QEMU on 2 random vectors, its outputs compared byte for byte
with TFLite Micro, and one inference counted exactly with the QEMU instruction-count plugin
(``crisp_eml.compiler.insn_plugin``: every instruction from the entry of ``<name>_invoke`` until it returns to
the runner, libgcc/memcpy included). SysTick's figure (M-profile only, 40 instructions a tick) is printed too.

A model that does not fit a board (AD01's 271 KB of weights vs the micro:bit's 256 KB flash) is reported as
such, and its Cortex-M0 code (``-mcpu=cortex-m0``, the same ARMv6-M instructions) is counted on the AN385
board instead, which has 4 MB: the count is the M0's, only the memory map differs.

    .venv/bin/python benchmarks/compiler_cores.py [--models kws_ref_model,ad01_int8] [--cores ...] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler import build
from crisp_eml.compiler.c.boards import BOARDS, Board
from crisp_eml.core.errors import VerificationError

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def _compile(model: Path, out: Path) -> tuple[str, int]:
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library

    g = strip_float_io(read_tflite(model.read_bytes()))
    name = model.stem.replace("-", "_")
    build.write_tree(render_library(g, plan_memory(g), RenderOptions(name=name)), out)
    return name, int(np.prod(g.tensor(g.inputs[0]).shape))


def _big_m0() -> Board:
    """The Cortex-M0 build on the AN385's 4 MB memory map (QEMU's M3 executes ARMv6-M code unchanged)."""
    m3 = BOARDS["cortex-m3"]
    return dataclasses.replace(BOARDS["cortex-m0"], machine=m3.machine, flash=m3.flash, ram=m3.ram,
                               note="Cortex-M0 code counted on mps2-an385 (does not fit the micro:bit)")


def bench_core(lib: Path, vec: np.ndarray, want: np.ndarray, work: Path, core: str) -> dict[str, Any]:
    board: Board = BOARDS[core]
    row: dict[str, Any] = {"core": core, "machine": board.machine}
    try:
        res = build.run_board(lib, vec, work / core, board=board, iterations=1)
    except VerificationError as exc:
        if "overflowed" not in str(exc) or core != "cortex-m0":
            raise
        row["fits"] = False
        row["note"] = f"does not fit {board.machine} ({board.flash[1] // 1024} KB flash, {board.ram[1] // 1024} KB RAM)"
        board = _big_m0()
        res = build.run_board(lib, vec, work / f"{core}-big", board=board, iterations=1)
        row["machine"] = f"{board.machine} (M0 code)"
    else:
        row["fits"] = True
    row.update(bit_exact=bool(np.array_equal(res["outputs"], want)), instructions=res["instructions_per_inference"],
               count_method=res["count_method"], systick=(res["systick_instructions"] or [None])[0],
               flash=res["flash_bytes"], text=res["sizes"]["text"], dsp=board.dsp)
    return row


def bench_model(model: Path, work: Path, cores: list[str]) -> list[dict[str, Any]]:
    from crisp_eml.compiler.verify import random_vectors, tflm_outputs

    name, n_in = _compile(model, work / "lib")
    vec = random_vectors(n_in, 2, seed=5)
    want = tflm_outputs(model.read_bytes(), vec)
    rows = [{"model": model.stem, **bench_core(work / "lib", vec, want, work, c)} for c in cores]
    m4 = next((r["instructions"] for r in rows if r["core"] == "cortex-m4"), None)
    for r in rows:
        r["vs_m4"] = round(r["instructions"] / m4, 2) if m4 else None
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kws_ref_model,ad01_int8")
    ap.add_argument("--cores", default=",".join(BOARDS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eml-cores-") as tmp:
        for m in args.models.split(","):
            path = SHARED / "models" / "mlperf-tiny" / f"{m}.tflite"
            if not path.exists():
                print(f"{m}: {path} not found, skipped")
                continue
            rows += bench_model(path, Path(tmp) / m, args.cores.split(","))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| model | core | QEMU machine | DSP paths | byte-exact vs TFLM | instructions / inference (plugin, exact) "
          "| SysTick | x Cortex-M4 | library flash B (text) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        note = "" if r["fits"] else f" ({r['note']})"
        systick = f"{r['systick']:,}" if r["systick"] else "-"
        print(f"| {r['model']} | {r['core']} | {r['machine']}{note} | {'yes' if r['dsp'] else 'no'} | "
              f"{'yes' if r['bit_exact'] else 'NO'} | {r['instructions']:,} | {systick} | {r['vs_m4']} | "
              f"{r['flash']:,} ({r['text']:,}) |")


if __name__ == "__main__":
    main()
