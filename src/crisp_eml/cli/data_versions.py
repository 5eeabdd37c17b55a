"""``eml data snapshot|versions|version show|diff|restore|rebalance``: dataset versions and splits.

Thin: parse options, call ``workspace.snapshot`` / ``workspace.rebalance``, render a table or JSON.
The commands join the ``data`` group through :func:`register`, which ``cli/data.py`` calls.
"""

from __future__ import annotations

from typing import Annotated

import typer

from crisp_eml.cli.common import console, open_project, print_json, print_table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LayerOpt = Annotated[str, typer.Option("--layer", help="Sample layer: raw or clean.")]

version_app = typer.Typer(help="Inspect one dataset version.", no_args_is_help=True)


def snapshot_cmd(
    message: Annotated[str, typer.Option("-m", "--message", help="What this version is.")],
    layer: LayerOpt = "raw",
    json_out: JsonOpt = False,
) -> None:
    """Record the current samples (hashes, labels, categories) as an immutable dataset version."""
    from crisp_eml.workspace.snapshot import snapshot

    info = snapshot(open_project(), message, layer=layer)
    if json_out:
        print_json(info.to_dict())
    else:
        typer.echo(f"Dataset version {info.id} ({info.layer}): {info.n_samples} samples, digest {info.digest[:12]}")


def versions_cmd(
    layer: Annotated[str | None, typer.Option("--layer", help="Only versions of this layer.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List dataset versions."""
    from crisp_eml.workspace.snapshot import list_versions

    infos = list_versions(open_project(), layer=layer)
    if json_out:
        print_json([i.to_dict() for i in infos])
        return
    print_table("Dataset versions", ["id", "layer", "samples", "labels", "digest", "author", "created", "message"],
                [(i.id, i.layer, i.n_samples, len(i.labels), i.digest[:12], i.author, i.created_at, i.message)
                 for i in infos])


@version_app.command("show")
def version_show_cmd(
    version_id: Annotated[int, typer.Argument(help="Version number.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one version: summary and its samples."""
    from crisp_eml.workspace.snapshot import show_version

    info, items = show_version(open_project(), version_id)
    if json_out:
        print_json({**info.to_dict(), "items": items})
        return
    console.print(f"Version {info.id} ({info.layer}) by {info.author} at {info.created_at}: {info.message}")
    console.print(f"digest {info.digest}; labels {info.labels}; categories {info.categories}", highlight=False)
    print_table(None, ["sample", "name", "label", "category", "hash"],
                [(i["sample_id"], i["name"], i["label"], i["category"], i["hash"][:12]) for i in items])


def diff_cmd(
    a: Annotated[int, typer.Argument(help="Older version.")],
    b: Annotated[int, typer.Argument(help="Newer version.")],
    json_out: JsonOpt = False,
) -> None:
    """What changed between two versions: added, removed, relabeled, recategorized samples."""
    from crisp_eml.workspace.snapshot import diff_versions

    d = diff_versions(open_project(), a, b)
    if json_out:
        print_json(d)
        return
    rows = []
    for kind in ("added", "removed", "relabeled", "recategorized", "changed"):
        for e in d[kind]:
            detail = f"{e['from']} -> {e['to']}" if "from" in e else f"{e['label']} / {e['category']}"
            rows.append((kind, e["name"], e["sample_id"], detail))
    print_table(f"Version {a} -> {b}: {len(rows)} change(s)", ["change", "name", "sample", "detail"], rows)


def restore_cmd(
    version_id: Annotated[int, typer.Argument(help="Version to restore.")],
    json_out: JsonOpt = False,
) -> None:
    """Make the samples match a version again (enable/disable, labels, categories)."""
    from crisp_eml.workspace.snapshot import restore_version

    r = restore_version(open_project(), version_id)
    if json_out:
        print_json(r)
    else:
        typer.echo(f"Restored version {version_id} ({r['layer']}): {r['enabled']} enabled, {r['disabled']} disabled, "
                   f"{r['relabeled']} relabeled, {r['recategorized']} recategorized")


def rebalance_cmd(
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Share of samples for testing.")] = 0.2,
    stratify: Annotated[bool, typer.Option("--stratify", help="Same fraction within each label.")] = False,
    keep_together: Annotated[str | None, typer.Option(
        "--keep-together", help="Metadata key (e.g. subject) whose samples stay on one side.")] = None,
    layer: LayerOpt = "raw",
    json_out: JsonOpt = False,
) -> None:
    """Re-split samples into training/testing deterministically by content hash."""
    from crisp_eml.workspace.rebalance import rebalance

    r = rebalance(open_project(), test_fraction=test_fraction, stratify=stratify, keep_together=keep_together,
                  layer=layer)
    if json_out:
        print_json(r.to_dict())
        return
    print_table(f"{len(r.moves)} sample(s) moved", ["name", "label", "from", "to"],
                [(m["name"], m["label"], m["from"], m["to"]) for m in r.moves])
    typer.echo(", ".join(f"{k}: {v}" for k, v in r.counts.items()))
    if r.missing_key:
        typer.echo(f"{r.missing_key} sample(s) lack '{keep_together}' and were split on their own")


def register(data_app: typer.Typer) -> None:
    """Add these commands to the ``data`` group (called once, by ``cli/data.py``)."""
    data_app.add_typer(version_app, name="version")
    data_app.command("snapshot")(snapshot_cmd)
    data_app.command("versions")(versions_cmd)
    data_app.command("diff")(diff_cmd)
    data_app.command("restore")(restore_cmd)
    data_app.command("rebalance")(rebalance_cmd)
