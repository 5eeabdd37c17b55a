"""Benchmark: the C library's flash against the ``.tflite`` it came from, per ``--optimize`` mode.

Issue 15's flash goal: text + rodata of the library objects built for the Cortex-M4 (``arm-none-eabi-gcc -O2``,
the board flags ``eml profile`` and ``compiler.build.run_board`` use) at most 1.10x the ``.tflite`` file, for a
VWW-shaped MobileNetV1 (``benchmarks/vww.py``) and the ResNet-8-shaped CNN (``benchmarks/resnet8.py``) compiled
with the default ``--optimize balanced``. ``ram`` and ``speed`` are measured too (``speed`` may store weights
widened: more flash, no goal). Also printed: data, ``weights_bytes`` and ``ram_bytes`` of the library's
MANIFEST.json. Objects are measured unlinked (every function of the library counts, as in ``eml profile``).
``--instructions`` also runs each library on QEMU (mps2-an386): Cortex-M4 instructions per inference, and its
outputs compared byte for byte with the reference interpreter on one random input.

Run: .venv/bin/python benchmarks/compiler_flash.py [--json] [--modes ram,balanced,speed] [--instructions]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

GOAL = 1.10  # text + rodata / .tflite, for the default mode
GOAL_MODE = "balanced"


def models() -> list[tuple[str, Path]]:
    from resnet8 import resnet8_path
    from vww import vww_path

    return [("vww", vww_path()), ("resnet8", resnet8_path())]


def _vector(data: bytes, name: str) -> Any:
    """One seeded int8 input (batch 1) and the reference interpreter's packed outputs for it."""
    import numpy as np

    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.reference import run_reference

    g = read_tflite(data, source=name)
    x = np.random.default_rng(0).integers(-128, 128, size=g.tensor(g.inputs[0]).shape, dtype=np.int8)
    return x, np.concatenate([np.asarray(y).reshape(-1).view(np.int8) for y in run_reference(g, [x])])


def measure(name: str, path: Path, mode: str, work: Path, *, instructions: bool = False) -> dict[str, Any]:
    """Render ``path`` with ``mode``, build it for the Cortex-M4 (the board build: library objects at -O2, one
    section per function/object) and size the library objects; with ``instructions`` also run it on QEMU and
    compare the outputs with the reference interpreter."""
    import numpy as np

    from crisp_eml.compiler.build import board_build, run_board, section_sizes, write_tree
    from crisp_eml.compiler.model_render import render_model

    data = path.read_bytes()
    _, files = render_model(data, name=name, labels=[], model_sha256=hashlib.sha256(data).hexdigest(), dsp=None,
                            source=path.name, optimize=mode)
    lib, wdir = work / f"{name}_{mode}", work / f"{name}_{mode}_m4"
    write_tree(files, lib)
    manifest = json.loads(files["MANIFEST.json"])
    x, want = _vector(data, path.name)
    run: dict[str, Any] = {}
    if instructions:
        res = run_board(lib, x.reshape(1, -1), wdir, board="cortex-m4")
        run = {"instructions_per_inference": res["instructions_per_inference"],
               "exact": bool(np.array_equal(np.asarray(res["outputs"]).reshape(-1), want))}
    else:
        board_build(lib, wdir, x.reshape(1, -1), board="cortex-m4")
    sizes = section_sizes([wdir / (src.stem + ".o") for src in sorted((lib / "src").glob("*.c"))])
    flash = sizes["text"] + sizes["rodata"]
    ratio = flash / len(data)
    return {"model": name, "optimize": mode, "tflite_bytes": len(data), "text_bytes": sizes["text"],
            "rodata_bytes": sizes["rodata"], "data_bytes": sizes["data"], "flash_bytes": flash,
            "flash_vs_tflite": round(ratio, 3), "weights_bytes": manifest["weights_bytes"],
            "ram_bytes": manifest["ram_bytes"], "arena_bytes": manifest["arena_bytes"],
            "goal": GOAL if mode == GOAL_MODE else None,
            "goal_met": (ratio <= GOAL) if mode == GOAL_MODE else None, **run}


def main() -> None:
    from crisp_eml.compiler.optimize import MODES

    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated optimize modes")
    ap.add_argument("--instructions", action="store_true", help="also run each library on QEMU (Cortex-M4)")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SystemExit(f"--modes: {', '.join(bad)} not one of {', '.join(MODES)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="eml-flash-") as tmp:
        for name, path in models():
            for mode in modes:
                rows.append(measure(name, path, mode, Path(tmp), instructions=args.instructions))
    if args.json:
        json.dump({"goal": GOAL, "goal_mode": GOAL_MODE, "target": "cortex-m4 (arm-none-eabi-gcc -O2)",
                   "rows": rows}, sys.stdout, indent=2)
        print()
        return
    print(f"{'model':<9}{'optimize':<10}{'.tflite':>9}{'text':>8}{'rodata':>9}{'data':>6}{'flash':>9}{'ratio':>7}"
          f"{'goal':>6}{'met':>5}{'weights':>9}{'ram':>8}" + (f"{'M4 instr':>11}{'exact':>6}" if args.instructions
                                                                 else ""))
    for r in rows:
        goal = f"{r['goal']:.2f}" if r["goal"] else "-"
        met = "-" if r["goal_met"] is None else ("yes" if r["goal_met"] else "NO")
        print(f"{r['model']:<9}{r['optimize']:<10}{r['tflite_bytes']:>9}{r['text_bytes']:>8}{r['rodata_bytes']:>9}"
              f"{r['data_bytes']:>6}{r['flash_bytes']:>9}{r['flash_vs_tflite']:>7.3f}{goal:>6}{met:>5}"
              f"{r['weights_bytes']:>9}{r['ram_bytes']:>8}"
              + (f"{r['instructions_per_inference']:>11}{'yes' if r['exact'] else 'NO':>6}" if args.instructions
                 else ""))
    print(f"flash = text + rodata of the library objects (Cortex-M4F, -O2); goal: <= {GOAL:.2f}x the .tflite with "
          f"--optimize {GOAL_MODE}")


if __name__ == "__main__":
    main()
