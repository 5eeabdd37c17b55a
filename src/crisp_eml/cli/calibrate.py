"""``eml calibrate``: tune a model's post-processing for false accepts per hour vs false rejects on a long stream."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisp_eml.cli.common import open_project, pct, print_json, print_table, progress

if TYPE_CHECKING:
    from rich.progress import TaskID


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def _labels(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def calibrate(
    model: Annotated[str, typer.Argument(help="Model URI: models:/NAME@ALIAS or models:/NAME/VERSION.")],
    hours: Annotated[float, typer.Option(help="Length of the synthetic stream in hours.")] = 0.25,
    background: Annotated[str | None, typer.Option(help="Background labels, comma-separated (default: noise, "
                                                        "unknown, idle, ... by name).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the stream (event times, clip order, gains).")] = 0,
    gain_db: Annotated[float, typer.Option("--gain-db", help="Audio: a random gain per clip of up to this many dB "
                                                             "either way (robustness to loudness; 0 = as recorded)."
                                           )] = 0.0,
    max_far_per_hour: Annotated[float | None, typer.Option(
        "--max-far-per-hour", help="Most false accepts per hour (default: the requirements' "
                                   "max_false_accepts_per_hour, else 1).")] = None,
    max_frr: Annotated[float | None, typer.Option(
        "--max-frr", help="Highest false reject rate, 0..1 (default: the requirements' "
                          "max_stream_false_reject_rate, else none).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report (trade-off plots) here.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (every setting of the grid included).")] = False,
) -> None:
    """Run the model over a long synthetic stream from the testing samples and choose its post-processing.

    Target events are placed at known times over background recordings; a grid of settings (moving-average
    windows, threshold, suppression) is scored for false accepts per hour and false reject rate, and the best
    setting within the ceilings is stored with the model version (shipped by deployments; gate evidence).
    """
    from crisp_eml.workspace.calibrate import calibrate as run

    project = open_project()
    stages = {"stream": "building the stream", "model": "running the model (C library)", "grid": "scoring settings"}
    with progress(disable=json_out) as bar:
        tasks: dict[str, TaskID] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stages.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        out = run(project, model, hours=hours, background=_labels(background), seed=seed, gain_db=gain_db,
                  max_far_per_hour=max_far_per_hour, max_frr=max_frr, report=report, on_progress=tick)
    if json_out:
        print_json(out)
        return
    ch, st, crit = out["chosen"], out["stream"], out["criteria"]
    typer.echo(f"Calibration #{out['id']} of {out['model']}: {st['hours']:.3f} h stream, {st['events']} events, "
               f"seed {st['seed']}")
    print_table("chosen per label", ["label", "events", "rejected", "FRR", "false accepts", "FAR/h"],
                [[lb, v["events"], v["rejected"], pct(v["frr"]), v["false_accepts"], f"{v['far_per_hour']:.2f}"]
                 for lb, v in ch["per_label"].items()])
    frr = pct(ch["frr"])
    shown = ", ".join(f"{k} {v:.2f}" for k, v in ch["thresholds"].items()) if ch.get("thresholds") else \
        f"{ch['threshold']:.2f}"
    typer.echo(f"Chosen: average {ch['average_windows']} windows, threshold {shown}, suppression "
               f"{ch['suppression_steps']} steps ({ch['suppression_ms']:.0f} ms): FAR {ch['far_per_hour']:.2f}/h, "
               f"FRR {frr}")
    limit = f"FAR <= {crit['max_far_per_hour']:g}/h ({crit['max_far_source']})"
    if crit.get("max_frr") is not None:
        limit += f", FRR <= {pct(crit['max_frr'])} ({crit['max_frr_source']})"
    typer.echo(("Meets " if out["met"] else "No setting meets ") + limit
               + ("" if out["met"] else ": stored the nearest one (lowest FAR)"))
    if out.get("report"):
        typer.echo(f"Report: {out['report']}")
