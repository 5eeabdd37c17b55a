"""``eml inspect MODEL.tflite``: ops, tensors, shapes, quantization and the arena plan of an int8 model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import console, print_json, print_table


def _q(info: dict[str, Any]) -> str:
    q = info["quantization"]
    if q is None:
        return ""
    if "per_channel" in q:
        return f"{q['per_channel']} ch, scale {q['scale_min']:.3g}..{q['scale_max']:.3g}"
    return f"scale {q['scale']:.6g}, zp {q['zero_point']}"


def inspect_cmd(
    model: Annotated[Path, typer.Argument(help="int8 .tflite file.")],
    tensors: Annotated[bool, typer.Option("--tensors", help="Also list every tensor.")] = False,
    no_plan: Annotated[bool, typer.Option("--no-plan", help="Skip the memory plan.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show an int8 TFLite model as the compiler sees it: ops, tensors, quantization, arena plan."""
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.summary import summarize

    graph = read_tflite(model)
    plan = None if no_plan else plan_memory(graph)
    info = summarize(graph, plan, file_bytes=model.stat().st_size)
    if json_out:
        print_json(info)
        return
    print_table(f"{info['name']}: {len(info['ops'])} ops, weights {info['weights_bytes']} B",
                ["#", "op", "output shape", "activation", "in-place lag"],
                [[o["index"], o["type"], "x".join(map(str, o["output_shape"])),
                  o["options"].get("fused_activation_function", ""), o["inplace_lag"]] for o in info["ops"]])
    io = [["input", t["name"], "x".join(map(str, t["shape"])), t["dtype"], _q(t)] for t in info["inputs"]]
    io += [["output", t["name"], "x".join(map(str, t["shape"])), t["dtype"], _q(t)] for t in info["outputs"]]
    print_table("inputs and outputs", ["role", "tensor", "shape", "dtype", "quantization"], io)
    if tensors:
        print_table("tensors", ["#", "name", "shape", "dtype", "bytes", "const", "offset", "quantization"],
                    [[t["index"], t["name"][:48], "x".join(map(str, t["shape"])), t["dtype"], t["bytes"],
                      "yes" if t["constant"] else "", t["offset"], _q(t)] for t in info["tensors"]])
    if plan is not None:
        console.print(f"arena {plan.arena_bytes} B ({plan.method}); greedy without in-place {plan.greedy_bytes} B; "
                      f"peak of live activations {plan.peak_live_bytes} B; "
                      f"{len(plan.overlaps)} ops written in place", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_cmd)
