"""``eml impulse create|show|set|autotune|history``: design the impulse (thin: parse, call, render)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crisp_eml.cli.common import console, open_project, print_json, print_table

impulse_app = typer.Typer(help="Impulse design: input window, processing (DSP) blocks.", no_args_is_help=True)


def _render(info: dict[str, Any]) -> None:
    spec = info["spec"]
    inp = spec["input"]
    console.print(f"[bold]Impulse v{info['version']}[/] {info['hash'][:12]}  ({info['n_features']} features)")
    if inp["type"] == "image":
        console.print(f"  input: image {inp['width']}x{inp['height']} {inp['channels']} ({inp['resize_mode']})")
    else:
        console.print(f"  input: time series, window {inp['window_size_ms']:g} ms, increase "
                      f"{inp['window_increase_ms']:g} ms, {inp['frequency_hz']:g} Hz, axes {', '.join(inp['axes'])}"
                      f"{'' if inp['pad_zeros'] else ', no zero padding'}")
    rows = []
    for b, shape, cost in zip(spec["blocks"], info["output_shapes"], info["cost"]["blocks"], strict=False):
        rows.append((b["name"], b["type"], ",".join(b["axes"]) if b["axes"] else "all", "x".join(map(str, shape)),
                     cost["ops"], cost["working_bytes"]))
    print_table(None, ["block", "type", "axes", "output", "ops/window", "bytes"], rows)
    for b in spec["blocks"]:
        if b["params"]:
            console.print(f"  {b['name']}: " + ", ".join(f"{k}={v}" for k, v in b["params"].items()),
                          highlight=False, soft_wrap=True)
    if spec.get("learning"):
        console.print(f"  learning: {spec['learning']}")


@impulse_app.command("create")
def create(
    window_size_ms: Annotated[float | None, typer.Option(help="Window size in ms (default: from the data).")] = None,
    window_increase_ms: Annotated[float | None, typer.Option(help="Window increase in ms.")] = None,
    block: Annotated[list[str] | None, typer.Option("--block", help="Processing block type (repeatable).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an impulse; options omitted are chosen from the project's samples."""
    from crisp_eml.workspace.impulse import create_impulse

    v = create_impulse(open_project(), window_size_ms=window_size_ms, window_increase_ms=window_increase_ms,
                       blocks=block or None)
    print_json(v.to_dict()) if json_out else _render(v.to_dict())


@impulse_app.command("show")
def show(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show the current impulse, its output shapes and DSP cost per window."""
    from crisp_eml.workspace.impulse import current_version

    v = current_version(open_project())
    print_json(v.to_dict()) if json_out else _render(v.to_dict())


@impulse_app.command("set")
def set_(
    assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE, e.g. blocks.0.params.fft-length=32")],
    message: Annotated[str | None, typer.Option("--message", "-m", help="Why (stored with the version).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Change fields of the current impulse (stored as a new version)."""
    from crisp_eml.workspace.impulse import set_impulse_values

    v = set_impulse_values(open_project(), assignments, message)
    print_json(v.to_dict()) if json_out else _render(v.to_dict())


@impulse_app.command("autotune")
def autotune(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Choose spectral-analysis / mfe / mfcc parameters from the training data."""
    from crisp_eml.workspace.autotune import autotune_impulse

    v, changes = autotune_impulse(open_project())
    if json_out:
        print_json({**v.to_dict(), "changes": changes})
        return
    for name, c in changes.items():
        console.print(f"  {name}: " + ", ".join(f"{k}={val}" for k, val in c.items()))
    _render(v.to_dict())


@impulse_app.command("history")
def history(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every version of the impulse."""
    from crisp_eml.workspace.impulse import impulse_history

    items = impulse_history(open_project())
    if json_out:
        print_json([v.to_dict(details=False) | {"spec": v.spec.to_dict()} for v in items])
        return
    print_table("Impulse versions", ["version", "hash", "author", "created", "current", "message"],
                [(v.version, v.hash[:12], v.author, v.created_at, "*" if v.current else "", v.message or "")
                 for v in items])


def register(app: typer.Typer) -> None:
    app.add_typer(impulse_app, name="impulse")
