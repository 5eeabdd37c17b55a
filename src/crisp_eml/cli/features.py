"""``eml features generate|explore``: features for every window, and the feature explorer (thin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisp_eml.cli.common import BACKGROUND, console, open_project, print_json, print_table, progress_tick

features_app = typer.Typer(help="Feature generation (cached) and the feature explorer.", no_args_is_help=True)


@features_app.command("generate")
def generate(
    category: Annotated[str | None, typer.Option(help="Only 'training' or 'testing' samples.")] = None,
    layer: Annotated[str, typer.Option(help="Sample layer: raw or clean.")] = "raw",
    workers: Annotated[int | None, typer.Option(help="Worker processes (default min(2, cpus)).")] = None,
    background: BACKGROUND = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Apply the current impulse to every window of every sample (cached per sample)."""
    from crisp_eml.workspace.features import generate_features_report

    if background:
        from crisp_eml.cli.jobs import run_in_background

        return run_in_background("features", {"category": category, "layer": layer, "workers": workers}, json_out)
    project = open_project()
    with progress_tick("features", disable=json_out) as tick:
        fs, stats = generate_features_report(project, layer=layer, category=category, on_progress=tick,
                                             workers=workers)
    info = {**stats.to_dict(), "shape": list(fs.X.shape), "feature_shape": list(fs.feature_shape),
            "labels": fs.label_names, "impulse_hash": fs.impulse_hash}
    if json_out:
        print_json(info)
        return
    console.print(f"{stats.windows} windows from {stats.samples} samples, features {tuple(fs.X.shape[1:])}; "
                  f"{stats.cache_hits} cached, {stats.computed} computed")
    if stats.skipped:
        console.print(f"[yellow]{len(stats.skipped)} samples shorter than the window were skipped[/]")


@features_app.command("explore")
def explore(
    method: Annotated[str, typer.Option(help="pca, tsne or umap (needs umap-learn).")] = "pca",
    html: Annotated[Path | None, typer.Option("--html", help="Write an interactive HTML page here.")] = None,
    layer: Annotated[str, typer.Option(help="Sample layer: raw or clean.")] = "raw",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """2D embedding of every window coloured by label, class separation and feature importance."""
    from crisp_eml.workspace.explore import explore_features

    project = open_project()
    with progress_tick("features", disable=json_out) as tick:
        res = explore_features(project, method=method, html_path=html, layer=layer, on_progress=tick)
    if json_out:
        print_json(res)
        return
    sil = res["silhouette"]
    console.print(f"{res['windows']} windows, {method} embedding, silhouette "
                  f"{'n/a' if sil is None else f'{sil:.3f}'}" + (f"; page: {res['html']}" if res.get("html") else ""))
    print_table("Most discriminative features", ["feature", "ANOVA F", "mutual info"],
                [(r["name"], f"{r['f_score']:.4g}", f"{r['mutual_info']:.4g}") for r in res["importance"][:10]])


def register(app: typer.Typer) -> None:
    app.add_typer(features_app, name="features")
