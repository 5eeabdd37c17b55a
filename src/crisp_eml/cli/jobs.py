"""``eml jobs ls|show|cancel|logs``: background jobs (thin), and the ``--background`` helper other commands use."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import console, open_project, print_json, print_table

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
jobs_app = typer.Typer(help="Background jobs (eml ... --background, or the server's).", no_args_is_help=True)


def run_in_background(kind: str, params: dict[str, Any], json_out: bool) -> None:
    """Submit a ``kind`` job with ``params``, start its worker detached, print the job id and return at once."""
    from crisp_eml.jobs.launch import start_detached

    job = start_detached(open_project(), kind, params)
    if json_out:
        print_json(job)
    else:
        typer.echo(f"{job['id']}  ({kind} job {job['status']}; follow it with 'eml jobs logs {job['id']} --follow')")


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.0f}%"


@jobs_app.command("ls")
def jobs_ls(
    status: Annotated[str | None, typer.Option(help="Only this status (queued, running, succeeded, failed, "
                                                    "cancelled, interrupted).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind (features, train, test, compile, ...).")] = None,
    member: Annotated[str | None, typer.Option(help="Only jobs submitted by this member.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many jobs.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many (newest first).")] = 0,
    json_out: JSON = False,
) -> None:
    """List jobs, newest first."""
    from crisp_eml.jobs.store import list_jobs

    page = list_jobs(open_project(), status=status, kind=kind, member=member, limit=limit, offset=offset)
    if json_out:
        print_json(page)
        return
    print_table(f"Jobs ({page['total']})", ["id", "kind", "status", "member", "progress", "created", "message"],
                [[j["id"], j["kind"], j["status"], j["member"], _pct(j["progress"]), j["created_at"],
                  (j["message"] or "")[:60]] for j in page["items"]])


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(help="Job id (or a unique prefix).")],
              json_out: JSON = False) -> None:
    """One job: parameters, status, progress, result or error."""
    from crisp_eml.jobs.store import get_job

    job = get_job(open_project(), job_id, prefix=True)
    if json_out:
        print_json(job)
        return
    rows = [[k, job[k]] for k in ("id", "kind", "status", "member", "created_at", "started_at", "finished_at",
                                  "message")]
    rows += [["progress", _pct(job["progress"])], ["params", job["params"]]]
    if job["error"]:
        rows.append(["error", f"{job['error'].get('code')}: {job['error'].get('message')}"])
    if job["result"] is not None:
        rows.append(["result", ", ".join(sorted(job["result"]))])
    print_table(f"Job {job['id']}", ["field", "value"], rows)


@jobs_app.command("cancel")
def jobs_cancel(job_id: Annotated[str, typer.Argument(help="Job id (or a unique prefix).")],
                json_out: JSON = False) -> None:
    """Cancel a job (yours, or anyone's if you manage members): a queued job ends at once, a running one stops."""
    from crisp_eml.jobs.launch import signal_job
    from crisp_eml.jobs.store import request_cancel

    job = request_cancel(open_project(), job_id, prefix=True)
    signal_job(job)
    if json_out:
        print_json(job)
    else:
        typer.echo(f"job {job['id']}: {job['status']}" + (" (cancel requested)" if job["status"] == "running" else ""))


def _line(e: dict[str, Any]) -> str:
    d = e["data"]
    if e["kind"] == "progress":
        return f"{e['at']}  progress {d.get('done')}/{d.get('total')} {d.get('message', '')}"
    if e["kind"] == "log":
        return f"{e['at']}  {d.get('line', '')}"
    err = d.get("error") or {}
    return f"{e['at']}  status {d.get('status')}" + (f": {err.get('message')}" if err.get("message") else "")


@jobs_app.command("logs")
def jobs_logs(
    job_id: Annotated[str, typer.Argument(help="Job id (or a unique prefix).")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print events as JSON lines.")] = False,
) -> None:
    """A job's events: status changes, progress and log lines."""
    import json

    from crisp_eml.jobs.store import FINAL, events_after, get_job

    project = open_project()
    jid, last = get_job(project, job_id, prefix=True)["id"], 0
    while True:
        events = events_after(project, jid, last)
        for e in events:
            last = e["id"]
            if json_out:
                typer.echo(json.dumps(e, default=str))
            else:
                console.print(_line(e), highlight=False, soft_wrap=True)
        if not follow or (not events and get_job(project, jid)["status"] in FINAL and not events_after(
                project, jid, last)):
            return
        if not events:
            time.sleep(0.5)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
