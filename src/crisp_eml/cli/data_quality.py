"""``eml data check`` and ``eml data clean``: quality scores, the HTML report and the cleaned layer.

Thin: parse options, call ``workspace.check`` / ``workspace.clean``, render a table or JSON. The
commands join the ``data`` group through :func:`register`, which ``cli/data.py`` calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisp_eml.cli.common import console, err_console, open_project, print_json, print_table, progress_tick
from crisp_eml.core.errors import InputError, VerificationError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WindowOpt = Annotated[float | None, typer.Option("--window-ms", help="Flag samples shorter than this window.")]


def check_cmd(
    json_out: JsonOpt = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    window_ms: WindowOpt = None,
    layer: Annotated[str, typer.Option("--layer", help="Sample layer: raw or clean.")] = "raw",
    fail_below: Annotated[float | None, typer.Option(
        "--fail-below", help="Exit non-zero when the dataset score is below this.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many penalised samples, lowest "
                                                               "score first.")] = 50,
    show_all: Annotated[bool, typer.Option("--all", help="Show every penalised sample (--json has them all, with "
                                                         "every issue's message).")] = False,
) -> None:
    """Score every sample and the dataset (NaN, flat, clipping, rate, length, duplicates, balance)."""
    from crisp_eml.workspace.check import check_dataset, html_target, write_html_report

    if fail_below is not None and not 0 <= fail_below <= 100:
        raise InputError(f"must be a score between 0 and 100, got {fail_below!r}", field="fail-below")
    if html is not None:
        html_target(html)
    project = open_project()
    with progress_tick("checking samples", disable=json_out) as tick:
        report = check_dataset(project, layer=layer, window_ms=window_ms,
                               on_progress=tick)
    written = write_html_report(project, report, html) if html is not None else None
    if json_out:
        d = report.to_dict()
        d["html"] = str(written) if written else None
        print_json(d)
    else:
        flagged = sorted((s for s in report.samples if s.score < 100), key=lambda s: (s.score, s.name))
        shown = flagged if show_all else flagged[:limit]
        print_table(f"{len(flagged)} of {len(report.samples)} samples scored below 100",
                    ["name", "label", "category", "score", "issues"],
                    [(s.name, s.label, s.category, f"{s.score:.0f}",
                      ", ".join(i.code for i in s.issues if i.penalty > 0)) for s in shown])
        if len(shown) < len(flagged):
            console.print(f"Shown: the {len(shown)} lowest scores; {len(flagged) - len(shown)} more (--all lists "
                          "every one, --limit N the N lowest, --json every sample with each issue's message)",
                          highlight=False, soft_wrap=True)
        counts = {code: n for code, n in report.issue_counts.items()
                  if any(i.code == code and i.penalty > 0 for s in flagged for i in s.issues)}
        if counts:
            console.print("Samples per issue: " + ", ".join(f"{code} {n}" for code, n in counts.items()),
                          highlight=False, soft_wrap=True)
        cats = list(report.label_counts)
        labels = sorted({lbl for per in report.label_counts.values() for lbl in per})
        print_table("Label counts", ["label", *cats],
                    [(lbl, *(report.label_counts[c].get(lbl, 0) for c in cats)) for lbl in labels])
        for i in report.dataset_issues:
            console.print(f"[yellow]{i.severity}[/] {i.code}: {i.message} (-{i.penalty:g})", highlight=False)
        console.print(f"Dataset score [bold]{report.score:.1f}[/] ({report.tier}), {len(report.samples)} samples "
                      f"in layer '{report.layer}'", highlight=False)
        if written:
            console.print(f"HTML report: {written}", highlight=False)
    if fail_below is not None and report.score < fail_below:
        raise VerificationError(f"dataset score {report.score:.1f} is below {fail_below:g}")


def clean_cmd(
    drop_below: Annotated[float | None, typer.Option("--drop-below", help="Drop samples scoring below this.")] = None,
    repair: Annotated[bool, typer.Option("--repair", help="Interpolate NaNs, drop leading repeated rows.")] = False,
    resample: Annotated[float | None, typer.Option("--resample", help="Resample every signal to this rate (Hz).")]
    = None,
    window_ms: WindowOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Build the cleaned layer (layer 'clean') from the raw samples; raw samples stay untouched."""
    from crisp_eml.workspace.clean import clean

    project = open_project()
    with progress_tick("cleaning samples", disable=json_out) as tick:
        r = clean(project, drop_below=drop_below, repair=repair, resample_hz=resample, window_ms=window_ms,
                  on_progress=tick)
    if json_out:
        print_json(r.to_dict())
        return
    if r.dropped:
        print_table(f"Dropped ({len(r.dropped)})", ["name", "reason"], [(d["name"], d["reason"]) for d in r.dropped])
    typer.echo(f"Clean layer: {r.kept} samples ({r.repaired} repaired, {r.resampled} resampled, "
               f"{len(r.dropped)} dropped; replaced {r.replaced})")
    if r.kept == 0:
        err_console.print("warning: the clean layer is empty")


def register(data_app: typer.Typer) -> None:
    """Add these commands to the ``data`` group (called once, by ``cli/data.py``)."""
    data_app.command("check")(check_cmd)
    data_app.command("clean")(clean_cmd)
