"""``eml impulse create|show|set|autotune|history``: design the impulse (thin: parse, call, render)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crisp_eml.cli.common import console, open_project, print_json, print_table

impulse_app = typer.Typer(help="Impulse design: input window, processing (DSP) blocks.", no_args_is_help=True)


_LENGTH_MODES = {"pad": ", one window per recording (zero-padded)",
                 "resample": ", one window per recording (resampled to the window)"}


def _render(info: dict[str, Any]) -> None:
    spec = info["spec"]
    inp = spec["input"]
    console.print(f"[bold]Impulse v{info['version']}[/] {info['hash'][:12]}  ({info['n_features']} features)")
    if inp["type"] == "image":
        console.print(f"  input: image {inp['width']}x{inp['height']} {inp['channels']} ({inp['resize_mode']})")
    else:
        from crisp_eml.core.humanize import duration_with_ms, plain_number

        console.print(f"  input: time series, window {duration_with_ms(inp['window_size_ms'])}, increase "
                      f"{duration_with_ms(inp['window_increase_ms'])}, {plain_number(inp['frequency_hz'])} Hz, "
                      f"axes {', '.join(inp['axes'])}"
                      f"{'' if inp['pad_zeros'] else ', no zero padding'}"
                      f"{_LENGTH_MODES.get(inp.get('length_mode', 'window'), '')}")
    rows = []
    for b, shape, cost in zip(spec["blocks"], info["output_shapes"], info["cost"]["blocks"], strict=False):
        version = b.get("implementation_version")
        rows.append((b["name"], b["type"], "crisp" if version is None else str(version),
                     ",".join(b["axes"]) if b["axes"] else "all", "x".join(map(str, shape)),
                     cost["ops"], cost["working_bytes"]))
    print_table(None, ["block", "type", "version", "axes", "output", "ops/window", "bytes"], rows)
    for b in spec["blocks"]:
        if b["type"] == "external":
            from crisp_eml.dsp.external import describe

            console.print(f"  {b['name']}: external block {describe(b['params'], b.get('implementation_version'))}",
                          highlight=False, soft_wrap=True)
        elif b["params"]:
            console.print(f"  {b['name']}: " + ", ".join(f"{k}={v}" for k, v in b["params"].items()),
                          highlight=False, soft_wrap=True)
    if spec.get("learning"):
        console.print(f"  learning: {spec['learning']}", highlight=False, soft_wrap=True)
    _render_choice(info.get("choice"))


def _render_choice(choice: dict[str, Any] | None) -> None:
    if not choice:
        return
    for r in choice.get("reasons") or []:
        console.print(f"  why: {r}", highlight=False, soft_wrap=True)
    cands = choice.get("candidates") or []
    if cands:
        print_table("Candidates (cross-validated on the training recordings)",
                    ["candidate", "score", "features", "chosen"],
                    [(c["name"], f"{c['score']:.3f}" if c["score"] is not None else "-", c["n_features"],
                      "*" if c["name"] == choice.get("chosen") else "") for c in cands])


@impulse_app.command("create")
def create(
    window_size_ms: Annotated[float | None, typer.Option(help="Window size in ms (default: from the data).")] = None,
    window_increase_ms: Annotated[float | None, typer.Option(help="Window increase in ms.")] = None,
    block: Annotated[list[str] | None, typer.Option("--block", help="Processing block type (repeatable).")] = None,
    block_url: Annotated[list[str] | None, typer.Option(
        "--block-url", help="An Edge Impulse DSP block server computing a block, e.g. http://127.0.0.1:4446 "
                            "(repeatable; after the --block blocks; heuristic window, no search).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="One heuristic guess, no cross-validated search.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an impulse chosen from the project's samples: candidate windows and blocks are scored by
    cross-validation on the training recordings and the best is kept (options given fix those parts)."""
    from crisp_eml.cli.common import progress_tick
    from crisp_eml.workspace.impulse import create_impulse

    with progress_tick("Scoring candidate impulses") as tick:
        v = create_impulse(open_project(), window_size_ms=window_size_ms, window_increase_ms=window_increase_ms,
                           blocks=block or None, quick=quick, on_progress=tick, block_urls=block_url or None)
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
