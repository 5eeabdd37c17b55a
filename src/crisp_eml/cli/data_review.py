"""``eml data review ls|show|label|dismiss|commit``: the field-data review queue (windows devices flagged).

Thin: parse options, call ``workspace.review``, render a table or JSON. The group joins ``data`` through
:func:`register`, which ``cli/data.py`` calls.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crisp_eml.cli.common import console, open_project, print_json, print_table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Ids = Annotated[list[str], typer.Argument(help="Review item ids.")]

review_app = typer.Typer(help="Review windows devices flagged (low confidence, anomaly): label them into the "
                              "dataset, or dismiss them.", no_args_is_help=True)


def _conf(item: dict[str, Any]) -> str:
    if item["confidence"] is not None:
        return f"{item['confidence']:.2f}"
    return f"anomaly {item['anomaly_score']:.3g}" if item["anomaly_score"] is not None else "-"


def _rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["id"], i["status"], i["device"] or "-", i["reason"], i["predicted"] or "-", _conf(i),
             i["length"], i["label"] or "", i["created_at"]) for i in items]


COLUMNS = ["id", "status", "device", "reason", "predicted", "confidence", "rows", "label", "created"]


@review_app.command("ls")
def ls_cmd(
    status: Annotated[str, typer.Option(help="pending, labelled, dismissed or all.")] = "pending",
    limit: Annotated[int, typer.Option(help="Items per page (1-1000).")] = 100,
    page_token: Annotated[str | None, typer.Option(help="Next page: the previous page's next_page_token.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List review items, oldest first (pending ones by default)."""
    from crisp_eml.workspace.review import list_review

    page = list_review(open_project(), status, limit, page_token)
    if json_out:
        print_json(page)
        return
    print_table(f"Review items ({status}): {page['total']}", COLUMNS, _rows(page["items"]))
    if page["next_page_token"]:
        typer.echo(f"More: --page-token {page['next_page_token']}")


@review_app.command("show")
def show_cmd(item_id: Annotated[str, typer.Argument(help="Review item id.")], json_out: JsonOpt = False) -> None:
    """Show one review item: what the device predicted, its scores and metadata."""
    from crisp_eml.workspace.review import get_review_item

    item = get_review_item(open_project(), item_id)
    if json_out:
        print_json(item)
        return
    console.print(f"Review item {item['id']} ({item['status']}) from {item['device'] or 'a member'}, "
                  f"upload {item['upload_id']}, {item['created_at']}", highlight=False)
    console.print(f"reason {item['reason']}; model {item['model'] or '-'}; predicted {item['predicted'] or '-'} "
                  f"({_conf(item)}); scores {item['scores']}", highlight=False)
    axes = ", ".join(s["name"] for s in item["sensors"])
    console.print(f"{item['kind']}: {item['length']} rows of {axes} at {item['frequency_hz']} Hz", highlight=False)
    if item["status"] == "labelled":
        console.print(f"labelled '{item['label']}' by {item['reviewed_by']} -> sample {item['sample_id']}"
                      + (f", dataset version {item['version_id']}" if item["version_id"] else ""), highlight=False)


@review_app.command("label")
def label_cmd(
    ids: Ids,
    label: Annotated[str, typer.Option("--label", "-l", help="The label every item gets.")],
    category: Annotated[str, typer.Option(help="training, testing or split (by content hash, 80/20).")] = "split",
    json_out: JsonOpt = False,
) -> None:
    """Label review items: each becomes a sample of the raw layer (all or none)."""
    from crisp_eml.workspace.review import label_review

    result = label_review(open_project(), ids, label, category)
    if json_out:
        print_json(result)
        return
    typer.echo(f"Labelled {result['labelled']} item(s) '{label}': sample(s) {', '.join(result['samples'])}. "
               "Record them in a dataset version with 'eml data review commit -m MESSAGE'.")


@review_app.command("dismiss")
def dismiss_cmd(ids: Ids, json_out: JsonOpt = False) -> None:
    """Dismiss review items: they leave the queue and become no sample."""
    from crisp_eml.workspace.review import dismiss_review

    result = dismiss_review(open_project(), ids)
    if json_out:
        print_json(result)
        return
    typer.echo(f"Dismissed {result['dismissed']} item(s).")


@review_app.command("commit")
def commit_cmd(
    message: Annotated[str, typer.Option("-m", "--message", help="What this dataset version is.")],
    json_out: JsonOpt = False,
) -> None:
    """Record the labelled items' samples in a new dataset version."""
    from crisp_eml.workspace.review import commit_review

    result = commit_review(open_project(), message)
    if json_out:
        print_json(result)
        return
    v = result["version"]
    typer.echo(f"Dataset version {v['id']}: {v['n_samples']} samples, with {len(result['items'])} reviewed "
               f"item(s) added.")


def register(data_app: typer.Typer) -> None:
    """Add ``eml data review`` to the ``data`` group (called once, by ``cli/data.py``)."""
    data_app.add_typer(review_app, name="review")
