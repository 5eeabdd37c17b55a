"""CLI for registered devices and remote captures: ``eml devices ls|add|rm|capture``.

Thin: parse options, call :mod:`crisp_eml.workspace.devices` / :mod:`crisp_eml.workspace.captures`, print a
table or JSON. ``add`` prints the device key once; ``capture`` asks a device for a recording in the project's
database (the device picks it up through ``eml serve``) and, with ``--wait``, follows it until it is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crisp_eml.cli.common import err_console, open_project, print_json, print_table

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
devices_app = typer.Typer(help="Devices that record for the project (eml agent, eml capture serial --server) and "
                               "remote captures.", no_args_is_help=True)


@devices_app.command("ls")
def ls(json_out: JSON = False) -> None:
    """List registered devices with their sensors and online state (never their keys)."""
    from crisp_eml.workspace.devices import list_devices

    items = list_devices(open_project())
    if json_out:
        print_json(items)
        return
    print_table("Devices", ["id", "name", "kind", "member", "sensors", "online", "last seen", "state"],
                [[d["id"], d["name"], d["kind"], d["member"], ", ".join(s["name"] for s in d["sensors"]),
                  "yes" if d["online"] else "no", d["last_seen_at"] or "never", d["state"]] for d in items])


@devices_app.command("add")
def add(name: Annotated[str, typer.Argument(help="Device name (letters, digits, . _ : -).")],
        kind: Annotated[str, typer.Option(help="linux-agent or serial-bridge.")] = "linux-agent",
        json_out: JSON = False) -> None:
    """Register a device; prints its key once (give it to eml agent --key)."""
    from crisp_eml.workspace.devices import register_device

    d = register_device(open_project(), name, kind)
    if json_out:
        print_json(d)
    else:
        typer.echo(f"Device {d['name']} ({d['id']}; key shown once, keep it secret):\n{d['key']}")


@devices_app.command("rm")
def rm(name: Annotated[str, typer.Argument(help="Device name or id.")], json_out: JSON = False) -> None:
    """Revoke a device's key at once (its open captures are cancelled)."""
    from crisp_eml.workspace.devices import revoke_device

    d = revoke_device(open_project(), name)
    if json_out:
        print_json(d)
    else:
        typer.echo(f"Revoked device {d['name']} ({d['id']})")


def _progress(json_out: bool) -> Any:
    shown: dict[str, Any] = {"status": None, "rows": -1}

    def update(cap: dict[str, Any], rows: int) -> None:
        if json_out or (cap["status"], rows) == (shown["status"], shown["rows"]):
            return
        shown.update(status=cap["status"], rows=rows)
        rate = f" at {cap['frequency_hz']:g} Hz" if cap["frequency_hz"] else ""
        err_console.print(f"capture {cap['id']}: {cap['status']}, {rows} readings received{rate}")

    return update


@devices_app.command("capture")
def capture(
    name: Annotated[str, typer.Argument(help="Device name or id.")],
    label: Annotated[str, typer.Option(help="Label of the recorded sample.")],
    length_ms: Annotated[int, typer.Option("--length-ms", help="Length of the recording in milliseconds.")],
    sensor: Annotated[str | None, typer.Option(help="Sensor to record from (default: the device's first).")]
    = None,
    category: Annotated[str, typer.Option(help="training, testing or split.")] = "split",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the capture until it is stored (or "
                                                                 "fails).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most (default: the length plus "
                                                "two minutes).")] = 0,
    json_out: JSON = False,
) -> None:
    """Ask a device for a recording; it starts when the device next polls the server (eml serve)."""
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.captures import request_capture, wait_capture

    if timeout < 0:
        raise InputError(f"must be 0 or more seconds, got {timeout:g}", field="timeout")
    project = open_project()
    cap = request_capture(project, name, label=label, length_ms=length_ms, sensor=sensor, category=category)
    if not json_out:
        err_console.print(f"capture {cap['id']} requested of {cap['device']} ({cap['sensor']}, "
                          f"{cap['length_ms']} ms, label {cap['label']})")
    if wait:
        cap = wait_capture(project, cap["id"], timeout or cap["length_ms"] / 1000 + 120,
                           on_update=_progress(json_out))
    if json_out:
        print_json(cap)
    elif cap["status"] == "done":
        typer.echo(f"capture {cap['id']} done: sample {cap['sample_id']}")
    else:
        typer.echo(f"capture {cap['id']}: {cap['status']}" + (f" ({cap['error']})" if cap["error"] else ""))
    if wait and cap["status"] != "done":  # failed, cancelled, or still not stored when --timeout ran out
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(devices_app, name="devices")
