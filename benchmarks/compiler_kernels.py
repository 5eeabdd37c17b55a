"""Cortex-M4 instructions per MAC of each convolution / depthwise / fully-connected configuration, and KWS per layer.

Goals of issue 15: no CONV_2D / DEPTHWISE_CONV_2D configuration above 4 instructions per MAC on the M4 (1x1,
3x3, strided, padded, dilated, depth multiplier 1 and 2, odd channel counts; FC too) and KWS <= 4.5 M
instructions per inference. Each configuration is a single-op graph (``compiler.synth_graphs``, no TensorFlow)
compiled with the default options, run on QEMU ``mps2-an386`` (arm-none-eabi-gcc -O2) with SysTick read around the
layer call (``compiler.layer_profile``), and its output checked byte for byte against the numpy reference.

    .venv/bin/python benchmarks/compiler_kernels.py [--json] [--sweep N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler.build import write_tree
from crisp_eml.compiler.layer_profile import profile_m4
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph, macs
from crisp_eml.core.graph import Graph

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2] / "shared"))
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
GOAL_PER_MAC = 4.0
GOAL_KWS = 4_500_000

C, D, F = "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"
CONFIGS: list[ConvSpec] = [
    ConvSpec(C, 12, 10, 32, 32),                                  # pointwise
    ConvSpec(C, 12, 10, 15, 17),                                  # pointwise, odd channels
    ConvSpec(C, 12, 10, 16, 16, 3, 3),                            # 3x3 same
    ConvSpec(C, 12, 10, 16, 16, 3, 3, padding="VALID"),           # 3x3 valid
    ConvSpec(C, 16, 16, 8, 16, 3, 3, stride=2),                   # strided
    ConvSpec(C, 12, 10, 8, 8, 3, 3, dilation=2),                  # dilated
    ConvSpec(C, 24, 24, 3, 8, 3, 3, stride=2),                    # image stem (3 input channels)
    ConvSpec(C, 49, 10, 1, 64, 10, 4, stride=2),                  # KWS stem (1 input channel)
    ConvSpec(D, 25, 5, 64, 64, 3, 3),                             # KWS depthwise
    ConvSpec(D, 16, 16, 32, 32, 3, 3),                            # dw 3x3 same, wider
    ConvSpec(D, 16, 16, 32, 32, 3, 3, stride=2),                  # dw strided
    ConvSpec(D, 12, 10, 16, 16, 3, 3, dilation=2),                # dw dilated
    ConvSpec(D, 12, 10, 15, 15, 3, 3),                            # dw odd channels
    ConvSpec(D, 12, 10, 8, 16, 3, 3),                             # dw multiplier 2
    ConvSpec(D, 12, 10, 7, 14, 3, 3, stride=2, padding="VALID"),  # dw multiplier 2, odd, strided
    ConvSpec(F, 1, 1, 256, 64),                                   # FC
    ConvSpec(F, 1, 1, 63, 11),                                    # FC odd
    ConvSpec(D, 8, 8, 64, 64, 3, 3, stride=2),                    # dw strided, narrow rows
    ConvSpec(D, 8, 8, 24, 48, 3, 3, stride=2),                    # dw multiplier 2, strided, narrow rows
    ConvSpec(C, 12, 10, 7, 16),                                   # pointwise, few inputs (K = 7)
    ConvSpec(C, 12, 10, 7, 7),                                    # pointwise 7 -> 7
    ConvSpec(C, 12, 10, 5, 16),                                   # pointwise K = 5
    ConvSpec(C, 12, 10, 4, 16),                                   # pointwise K = 4
    ConvSpec(C, 12, 10, 3, 16),                                   # pointwise K = 3
    ConvSpec(C, 12, 10, 9, 9),                                    # pointwise K = 9
    ConvSpec(C, 12, 10, 1, 16, 3, 3),                             # 3x3, 1 input channel (K = 9)
    ConvSpec(C, 12, 10, 2, 16),                                   # pointwise K = 2: above (~8 instr/output floor)
    ConvSpec(C, 12, 10, 1, 8, 3, 1),                              # 3x1, 1 input channel, 8 outputs: above
    ConvSpec(F, 1, 1, 10, 8),                                     # FC classifier head, small depth
    ConvSpec(F, 1, 1, 18, 39),                                    # FC small depth
    ConvSpec(F, 1, 1, 24, 33),                                    # FC small depth, odd outputs
    ConvSpec(F, 1, 1, 16, 16),                                    # FC depth 16
    ConvSpec(D, 16, 16, 32, 32, 5, 5),                            # dw 5x5 same
    ConvSpec(D, 16, 16, 24, 48, 5, 5, stride=2),                  # dw 5x5 multiplier 2, strided
    ConvSpec(D, 15, 12, 23, 23, 5, 5, padding="VALID", activation="RELU6"),  # dw 5x5 valid, odd, clamped
    ConvSpec(D, 18, 24, 33, 66, 5, 5),                            # dw 5x5 multiplier 2, odd input channels
]


# small-K convolutions outside the goal's list (clamped by RELU / RELU6, or one MAC an output; their floors are in
# docs/compiler.md), measured so the figures quoted for them come from this script
CLAMPED: list[ConvSpec] = [
    ConvSpec(C, 12, 10, 2, 16, activation="RELU6"),                # K = 2
    ConvSpec(C, 12, 10, 1, 8, 3, 1, activation="RELU6"),           # 3x1, one channel
    ConvSpec(C, 12, 10, 3, 16, activation="RELU6"),                # K = 3
    ConvSpec(C, 12, 10, 4, 15, activation="RELU6"),                # K = 4
    ConvSpec(C, 12, 10, 1, 8, 4, 1, activation="RELU6"),           # 4x1, one channel
    ConvSpec(C, 12, 10, 2, 16, activation="RELU"),                 # K = 2, RELU
    ConvSpec(C, 12, 10, 1, 16, activation="RELU6"),                # K = 1
    ConvSpec(C, 12, 10, 1, 16),                                    # K = 1, no activation
]


def _rows(specs: list[ConvSpec], tmp: str, tag: str) -> list[dict[str, Any]]:
    rows = []
    for i, spec in enumerate(specs):
        layers, _, exact, _ = _profile(conv_graph(spec, seed=i), Path(tmp) / f"{tag}{i}")
        n = layers[0][2]
        label = spec.label() + ("" if spec.activation == "NONE" else f" {spec.activation}")
        rows.append({"config": label, "macs": macs(spec), "instructions": n,
                     "per_mac": round(n / macs(spec), 2), "exact": exact})
    return rows


def _profile(g: Graph, work: Path, seed: int = 0) -> tuple[list[tuple[int, str, int]], int, bool, dict[str, Any]]:
    files = render_library(g, plan_memory(g), RenderOptions(name="bench"))
    write_tree(files, work / "lib")
    shape = g.tensor(g.inputs[0]).shape
    x = np.random.default_rng(seed).integers(-128, 128, int(np.prod(shape))).astype(np.int8)
    prof = profile_m4(work / "lib", x, work)
    want = run_reference(g, [x.reshape(shape)])[0].reshape(-1)
    return prof.layers, prof.total, bool(np.array_equal(want, prof.outputs)), json.loads(files["MANIFEST.json"])


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        rows = _rows(CONFIGS, tmp, "c")
        clamped = _rows(CLAMPED, tmp, "k")
        kws: dict[str, Any] = {}
        if KWS.is_file():
            g = read_tflite(KWS.read_bytes())
            layers, total, exact, manifest = _profile(g, Path(tmp) / "kws")
            kws = {"total": total, "exact": exact, "ram_bytes": manifest["ram_bytes"],
                   "scratch_bytes": manifest["scratch_bytes"],
                   "layers": [{"op": i, "type": t, "instructions": n} for i, t, n in layers]}
    return {"configs": rows, "clamped": clamped, "kws": kws}


def sweep_specs(n: int, seed: int = 0) -> list[ConvSpec]:
    """``n`` seeded random single-op geometries of the kinds models use: convolutions 1x1 / 3x3 / 5x5 (any
    channel count, stride 1-2, dilation 1-2), depthwise 3x3 / 5x5 (multiplier 1-2), FC; activations mixed."""
    rng = np.random.default_rng(seed)
    specs: list[ConvSpec] = []
    while len(specs) < n:
        kind = [C, C, D, D, F][int(rng.integers(5))]
        act = ["NONE", "RELU", "RELU6"][int(rng.integers(3))]
        if kind == F:
            specs.append(ConvSpec(F, 1, 1, int(rng.integers(8, 257)), int(rng.integers(2, 65)), activation=act))
            continue
        k = [1, 3, 3, 5][int(rng.integers(4))] if kind == C else [3, 3, 3, 5][int(rng.integers(4))]
        h, w = (int(v) for v in rng.integers(max(k, 4), 25, 2))
        stride = 1 if k == 1 else int(rng.integers(1, 3))
        dil = 2 if k == 3 and stride == 1 and rng.random() < 0.2 else 1
        pad = "VALID" if rng.random() < 0.25 and h > (k - 1) * dil and w > (k - 1) * dil else "SAME"
        if kind == C:
            ic, oc = int(rng.integers(1, 65)), int(rng.integers(2, 65))
        else:
            ic = int(rng.integers(1, 65))
            oc = ic * int(rng.integers(1, 3))
        specs.append(ConvSpec(kind, h, w, ic, oc, k, k, stride=stride, dilation=dil, padding=pad, activation=act))
    return specs


def sweep(n: int) -> list[dict[str, Any]]:
    """Instructions per MAC of :func:`sweep_specs`, worst first."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(sweep_specs(n)):
            layers, _, exact, _ = _profile(conv_graph(spec, seed=i), Path(tmp) / f"s{i}")
            rows.append({"config": spec.label(), "macs": macs(spec), "instructions": layers[0][2],
                         "per_mac": round(layers[0][2] / macs(spec), 2), "exact": exact})
    return sorted(rows, key=lambda r: -r["per_mac"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sweep", type=int, default=0, metavar="N",
                    help="instead: N seeded random geometries, worst first (how many are above the goal)")
    args = ap.parse_args()
    if args.sweep:
        rows = sweep(args.sweep)
        if args.json:
            print(json.dumps(rows, indent=2))
            return
        over = [r for r in rows if r["per_mac"] > GOAL_PER_MAC]
        print(f"{len(rows)} random geometries: {len(over)} above {GOAL_PER_MAC} instructions/MAC, "
              f"{sum(not r['exact'] for r in rows)} not exact")
        for r in rows[:20]:
            print(f"{r['config']:<44} {r['macs']:>9} {r['instructions']:>10} {r['per_mac']:>9.2f}  {r['exact']}")
        return
    res = run()
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{'configuration':<44} {'MACs':>9} {'instr':>10} {'instr/MAC':>9}  goal<={GOAL_PER_MAC}  exact")
    for r in res["configs"]:
        ok = "ok" if r["per_mac"] <= GOAL_PER_MAC else "OVER"
        print(f"{r['config']:<44} {r['macs']:>9} {r['instructions']:>10} {r['per_mac']:>9.2f}  {ok:<9} {r['exact']}")
    print("\nsmall-K convolutions outside the goal's list (clamped, or K = 1):")
    for r in res["clamped"]:
        print(f"{r['config']:<44} {r['macs']:>9} {r['instructions']:>10} {r['per_mac']:>9.2f}  {'':<9} {r['exact']}")
    k = res["kws"]
    if k:
        print(f"\nKWS: {k['total']:,} instructions per inference (goal <= {GOAL_KWS:,}: "
              f"{'ok' if k['total'] <= GOAL_KWS else 'not met'}), exact {k['exact']}, ram_bytes {k['ram_bytes']}, "
              f"scratch {k['scratch_bytes']}")
        for layer in k["layers"]:
            print(f"  op {layer['op']:>2} {layer['type']:<20} {layer['instructions']:>10,}")


if __name__ == "__main__":
    main()
