"""CLI for the CRISP-EML backbone: requirements, gate, status, members, whoami, audit and report.

Thin: parse options, call the use case in ``workspace/``, render a table or ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import BACKGROUND, console, open_project, print_json, print_table
from crisp_eml.core.errors import InputError, VerificationError
from crisp_eml.core.requirements import KPIS, format_value, split_key

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
requirements_app = typer.Typer(help="Requirements and KPIs (Business Understanding).", no_args_is_help=True)
members_app = typer.Typer(help="Project members and their CRISP-EML personas.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


# -- requirements -------------------------------------------------------------------------------------
def _req_rows(kpis: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, value in kpis.items():
        kpi, _ = split_key(key)
        rows.append([key, ">=" if kpi.direction == "min" else "<=", format_value(kpi.unit, value), kpi.description])
    return rows


@requirements_app.command("set")
def requirements_set(
    items: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs, e.g. target=cortex-m4f-80mhz "
                                                    "min_accuracy=0.9 max_ram=64k min_f1.walking=0.8; KEY= removes.")],
    message: Annotated[str, typer.Option("-m", "--message", help="Why the requirements changed.")] = "",
    json_out: JSON = False,
) -> None:
    """Change requirements; every change is a new, audited version."""
    from crisp_eml.workspace.requirements import set_requirements

    r = set_requirements(open_project(), items, message)
    if json_out:
        print_json(r.to_dict())
        return
    typer.echo(f"Requirements version {r.version} (target: {r.target or '-'})")
    print_table(None, ["KPI", "", "threshold", "meaning"], _req_rows(r.kpis))


@requirements_app.command("show")
def requirements_show(
    history: Annotated[bool, typer.Option("--history", help="Show every version.")] = False,
    json_out: JSON = False,
) -> None:
    """Show the current requirements (or their history)."""
    from crisp_eml.workspace import requirements as uc

    p = open_project()
    if history:
        versions = uc.history(p)
        if json_out:
            print_json([v.to_dict() for v in versions])
            return
        print_table("Requirement versions", ["version", "at", "author", "target", "KPIs", "message"],
                    [[v.version, v.at, v.author, v.target or "-", ", ".join(f"{k}={val}" for k, val in v.kpis.items()),
                      v.message] for v in versions])
        return
    r = uc.show(p)
    if json_out:
        print_json(r.to_dict())
        return
    if r.is_empty():
        typer.echo("No requirements yet. Known KPIs: " + ", ".join(KPIS))
        return
    typer.echo(f"Requirements version {r.version} by {r.author} at {r.at} (target: {r.target or '-'})")
    print_table(None, ["KPI", "", "threshold", "meaning"], _req_rows(r.kpis))


# -- gate ------------------------------------------------------------------------------------------------
_UNITS = ("ratio", "bytes", "ms", "count", "score")


def gate_cells(r: dict[str, Any]) -> list[str]:
    """requirement, threshold, measured, PASS/FAIL, evidence source (or why there is none)."""
    unit = r["unit"]
    op = {"min": ">= ", "max": "<= "}.get(r["direction"], "")
    threshold = op + (format_value(unit, r["threshold"]) if unit in _UNITS else str(r["threshold"]))
    if r["measured"] is None:
        measured = "-"
    else:
        measured = format_value(unit, r["measured"]) if unit in _UNITS else str(r["measured"])
    return [r["requirement"], threshold, measured, "PASS" if r["passed"] else "FAIL", r["note"] or r["source"]]


def gate(
    model: Annotated[str, typer.Argument(help="models:/NAME@ALIAS or models:/NAME/VERSION")],
    target: Annotated[str | None, typer.Option(help="Target device (default: the requirements' target).")] = None,
    library: Annotated[Path | None, typer.Option(help="Compiled library folder to take RAM/flash from "
                                                      "(default: the latest compile of this model).")] = None,
    profile: Annotated[bool, typer.Option("--profile", help="Measure --library on the target now (cross build "
                                                             "+ QEMU) for RAM, flash and latency.")] = False,
    json_out: JSON = False,
) -> None:
    """Check a model version against every requirement; exit code 8 when any row fails."""
    from crisp_eml.workspace.gate import run_gate

    g = run_gate(open_project(), model, target, library=library, profile=profile)
    if json_out:
        print_json(g.to_dict())
    else:
        print_table(f"Gate #{g.id}: models:/{g.model}/{g.version} on {g.target or '-'} "
                    f"(requirements v{g.requirements_version})",
                    ["requirement", "threshold", "measured", "result", "evidence"],
                    [gate_cells(r) for r in g.rows])
        console.print("[bold green]GATE PASSED[/]" if g.passed else "[bold red]GATE FAILED[/]")
    if not g.passed:
        raise VerificationError(f"gate failed for models:/{g.model}/{g.version}: {', '.join(g.failed)}")


# -- status -----------------------------------------------------------------------------------------------
_ICON = {"done": "[green]done[/]", "in progress": "[yellow]in progress[/]", "blocked": "[red]blocked[/]",
         "not started": "[dim]not started[/]"}


def status(json_out: JSON = False) -> None:
    """The six CRISP-EML phases, their state, owners and open feedback loops."""
    from crisp_eml.core.lifecycle import TITLES
    from crisp_eml.workspace.status import status as uc

    b = uc(open_project())
    if json_out:
        print_json(b.to_dict())
        return
    print_table(f"CRISP-EML phases: {b.project}", ["#", "phase", "state", "why"],
                [[i + 1, p.title, _ICON.get(p.state, p.state), p.why] for i, p in enumerate(b.phases)])
    for i, p in enumerate(b.phases):
        deps = ", ".join(TITLES[d] for d in p.depends_on) or "-"
        console.print(f"[dim]{i + 1}. owners: {', '.join(p.personas)}; after: {deps}[/]", highlight=False)
    for f in b.feedback:
        console.print(f"[bold]feedback:[/] {f.source} -> {f.to}: {f.reason}", highlight=False)
    if b.focus:
        console.print(f"next: {b.focus}", highlight=False)


# -- members ----------------------------------------------------------------------------------------------
@members_app.command("add")
def members_add(
    name: Annotated[str, typer.Argument(help="Member name.")],
    persona: Annotated[str, typer.Option(help="business-leader, domain-expert, end-user, data-scientist, "
                                              "ml-researcher, ml-platform-developer, embedded-developer, "
                                              "devops-mlops")],
    json_out: JSON = False,
) -> None:
    """Add a member with a persona (needs manage-members)."""
    from crisp_eml.workspace.members import add_member

    m = add_member(open_project(), name, persona)
    if json_out:
        print_json(m.to_dict())
    else:
        typer.echo(f"Added {m.name} ({m.persona}): {', '.join(m.permissions) or 'read only'}")


@members_app.command("ls")
def members_ls(json_out: JSON = False) -> None:
    """List members, personas and what they may do."""
    from crisp_eml.workspace.members import list_members

    ms = list_members(open_project())
    if json_out:
        print_json([m.to_dict() for m in ms])
        return
    print_table("Members", ["name", "persona", "owner", "may"],
                [[m.name, m.persona, "yes" if m.owner else "", ", ".join(m.permissions) or "read only"] for m in ms])


@members_app.command("rm")
def members_rm(name: Annotated[str, typer.Argument(help="Member name.")], json_out: JSON = False) -> None:
    """Remove a member (needs manage-members; the last owner cannot be removed)."""
    from crisp_eml.workspace.members import remove_member

    remove_member(open_project(), name)
    if json_out:
        print_json({"removed": name})
    else:
        typer.echo(f"Removed {name}")


def whoami(json_out: JSON = False) -> None:
    """The member the CLI acts as ($EML_MEMBER, else actor.member in eml.toml)."""
    from crisp_eml.workspace.members import whoami as uc

    m = uc(open_project())
    if json_out:
        print_json(m.to_dict())
    else:
        typer.echo(f"{m.name} ({m.persona}{', owner' if m.owner else ''}): {', '.join(m.permissions) or 'read only'}")


# -- audit ------------------------------------------------------------------------------------------------
@audit_app.command("log")
def audit_log(
    action: Annotated[str | None, typer.Option(help="Only this action (or prefix: 'gate').")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the last N entries.")] = None,
    json_out: JSON = False,
) -> None:
    """Show the audit trail, oldest first."""
    from crisp_eml.workspace.audit import log

    entries = log(open_project(), action, limit)
    if json_out:
        print_json(entries)
        return
    print_table("Audit log", ["#", "at", "actor", "persona", "action", "artifacts"],
                [[e["seq"], e["at"][:19], e["actor"], e["persona"], e["action"],
                  ", ".join(f"{k}={v}" for k, v in e["artifacts"].items())[:100]] for e in entries])


@audit_app.command("verify")
def audit_verify(
    key: Annotated[str | None, typer.Option(
        "--key", help="Audit public key to check the signed checkpoints with (64 hex digits or a file), e.g. a "
                      "copy kept outside the project; default: the key pinned in eml.toml.")] = None,
    checkpoint: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", help="A checkpoint saved earlier with 'eml audit checkpoint -o FILE' (repeatable): the "
                             "entry it names must still be in the trail.")] = None,
    json_out: JSON = False,
) -> None:
    """Check the hash chain and its signed checkpoints; exit code 8 naming the first problem."""
    from crisp_eml.workspace.audit import verify

    r = verify(open_project(), key=key, checkpoints=checkpoint)
    if json_out:
        print_json(r.to_dict())
    else:
        for note in r.notes:
            typer.echo(f"warning: {note}", err=True)
        if r.last_good is not None:
            typer.echo(f"last good checkpoint: entry {r.last_good.seq} ({r.last_good.at[:19]}), "
                       f"checked with {r.key_source}")
        if r.ok:
            typer.echo(f"audit trail intact: {r.entries} entries, {r.checkpoints} signed checkpoint(s)")
    if not r.ok:
        first = r.problems[0]
        where = f"at entry {first.seq}" if first.seq else "in its checkpoints"
        raise VerificationError(f"audit trail broken {where}: {first.reason}"
                                + (f" (and {len(r.problems) - 1} more problem(s))" if len(r.problems) > 1 else ""))


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Also write the checkpoint line to this file "
                                                                 "(keep it outside the project).")] = None,
    json_out: JSON = False,
) -> None:
    """Print the newest signed checkpoint of the audit trail (give it to 'eml audit verify --checkpoint')."""
    import json

    from crisp_eml.workspace.audit import head_checkpoint

    cp = head_checkpoint(open_project())
    line = json.dumps(cp, separators=(",", ":"))
    if out is not None:
        try:
            out.write_text(line + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the checkpoint: {exc.strerror or exc}", source=str(out),
                             field="out") from exc
    if json_out:
        print_json(cp)
    else:
        typer.echo(line)


# -- report -----------------------------------------------------------------------------------------------
def report(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for report.html and report.pdf.")] = Path("report"),
    model: Annotated[str | None, typer.Option(help="Model URI (default: production, else latest).")] = None,
    pdf: Annotated[bool, typer.Option(help="Also write a PDF (needs reportlab).")] = True,
    background: BACKGROUND = False,
    json_out: JSON = False,
) -> None:
    """Write the project report / model card as HTML (and PDF)."""
    from crisp_eml.workspace.report import write_report

    if background:
        from crisp_eml.cli.jobs import run_in_background

        return run_in_background("report", {"out": str(out), "model": model, "pdf": pdf}, json_out)
    r = write_report(open_project(), out, model=model, pdf=pdf)
    if json_out:
        print_json(r)
    else:
        for kind in ("html", "pdf"):
            if r.get(kind):
                typer.echo(f"{kind.upper()}: {r[kind]}")


def register(app: typer.Typer) -> None:
    app.add_typer(requirements_app, name="requirements")
    from crisp_eml.cli.server import login_url, token_app

    members_app.add_typer(token_app, name="token")
    members_app.command("login-url")(login_url)
    app.add_typer(members_app, name="members")
    app.add_typer(audit_app, name="audit")
    app.command("gate")(gate)
    app.command("status")(status)
    app.command("whoami")(whoami)
    app.command("report")(report)
