"""``eml models ...``: the model registry (register, list, show, aliases, lineage, bring-your-own-model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisp_eml.cli.common import console, open_project, print_json, print_table

models_app = typer.Typer(help="Model registry: versions, aliases (models:/name@alias), lineage.",
                         no_args_is_help=True)
alias_app = typer.Typer(help="Aliases such as production and staging, with their history.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    models_app.add_typer(alias_app, name="alias")
    app.add_typer(models_app, name="models")


@models_app.command("register")
def models_register(
    name: Annotated[str, typer.Argument(help="Model name.")],
    run: Annotated[str | None, typer.Option("--run", help="Run id (default: the latest run).")] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Register a run's output as the next version of NAME."""
    from crisp_eml.workspace.registry import register_model

    info = register_model(open_project(), run, name, description)
    if json_out:
        print_json(info.to_dict())
    else:
        typer.echo(f"Registered {info.uri} (run {info.run_id})")


@models_app.command("ls")
def models_ls(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List model versions with their aliases."""
    from crisp_eml.workspace.registry import list_models

    rows = list_models(open_project(), name)
    if json_out:
        print_json(rows)
        return
    from crisp_eml.cli.common import pct

    print_table("Models", ["uri", "aliases", "run", "type", "int8 accuracy", "created"],
                [[r["uri"], ",".join(r["aliases"]), r["run"], r["learning_type"], pct(r["accuracy_int8"]),
                  (r["created_at"] or "")[:19]] for r in rows])


@models_app.command("show")
def models_show(
    uri: Annotated[str, typer.Argument(help="models:/NAME@ALIAS, models:/NAME/VERSION or NAME (latest).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Resolve a model URI: version, run, artifacts (blob sha256)."""
    from crisp_eml.workspace.model_resolution import resolve_model

    d = resolve_model(open_project(), uri).to_dict()
    if json_out:
        print_json(d)
        return
    print_table(d["uri"], ["field", "value"], [[k, v] for k, v in d.items() if k != "artifacts"]
                + [[f"artifact {k}", v] for k, v in d["artifacts"].items()])


@alias_app.command("set")
def alias_set(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. production or staging.")],
    version: Annotated[int, typer.Argument(help="Version the alias should point at.")],
    note: Annotated[str | None, typer.Option(help="Why (kept in the alias history).")] = None,
    override_reason: Annotated[str | None, typer.Option(help="Promote to production without a passing gate "
                                                             "(audited; needs approve-gate and move-alias).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Point ALIAS of NAME at VERSION (history kept, audited; production needs a passing gate)."""
    from crisp_eml.workspace.registry import set_alias

    res = set_alias(open_project(), name, alias, version, note=note, override_reason=override_reason)
    if json_out:
        print_json(res)
    else:
        before, after = res["from_version"], res["to_version"]
        if before is None:
            typer.echo(f"models:/{name}@{alias} created: now points at version {after}")
        elif before == after:
            typer.echo(f"models:/{name}@{alias} already pointed at version {after} (unchanged; kept in the history)")
        else:
            typer.echo(f"models:/{name}@{alias} moved from version {before} to version {after}")


@alias_app.command("history")
def alias_history_cmd(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str | None, typer.Argument(help="Only this alias.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every move of the model's aliases: who, when, from which version to which."""
    from crisp_eml.workspace.registry import alias_history

    rows = alias_history(open_project(), name, alias)
    if json_out:
        print_json(rows)
        return
    print_table(f"Alias history of {name}", ["at", "alias", "from", "to", "actor", "note"],
                [[(r["at"] or "")[:19], r["alias"], "(new)" if r["from_version"] is None else r["from_version"],
                  r["to_version"], r["actor"], r["note"]]
                 for r in rows])


@models_app.command("lineage")
def models_lineage(
    uri: Annotated[str, typer.Argument(help="models:/NAME@ALIAS or models:/NAME/VERSION.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Model version -> run -> dataset version + impulse -> samples."""
    from crisp_eml.workspace.registry import lineage

    d = lineage(open_project(), uri)
    if json_out:
        print_json(d)
        return
    run, dv, imp = d["run"] or {}, d["dataset_version"] or {}, d["impulse"] or {}
    console.print(f"{d['model']['uri']} <- run {run.get('id')} ({run.get('learning_type')}, seed {run.get('seed')})")
    console.print(f"  impulse {imp.get('hash')}")
    console.print(f"  dataset version {dv.get('id')} ({dv.get('message')}), {len(d['samples'])} sample(s)")
    print_table(None, ["sample", "label", "category", "hash"],
                [[s["name"], s["label"], s["category"], s["hash"][:16]] for s in d["samples"][:50]])
    if len(d["samples"]) > 50:
        console.print(f"... and {len(d['samples']) - 50} more (use --json)")


@models_app.command("import")
def models_import(
    path: Annotated[Path, typer.Argument(help="A .tflite, .keras or .h5 model file.")],
    name: Annotated[str, typer.Option(help="Model name to register it under.")],
    labels: Annotated[str | None, typer.Option(help="Comma-separated class labels, in output order.")] = None,
    task: Annotated[str, typer.Option(help="classification or regression.")] = "classification",
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Bring your own model: check it runs in TFLite Micro, describe its I/O and register it."""
    from crisp_eml.workspace.import_model import import_model

    lab = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    res = import_model(open_project(), path, name, labels=lab, task=task, description=description)
    if json_out:
        print_json(res)
    else:
        typer.echo(f"Imported {path.name} as {res['uri']} ({res['variant']}, input {res['input']['shape']}, "
                   f"TFLM arena {res['arena_bytes']} B)")
    if res.get("impulse_note"):
        typer.echo(f"note: {res['impulse_note']}", err=True)
