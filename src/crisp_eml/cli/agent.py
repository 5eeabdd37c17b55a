"""CLI for ``eml agent``: a Linux device serving a project's remote captures from its sensors.

Thin: read the key, build the sources from ``--source`` texts, run :mod:`crisp_eml.capture.agent` until
stopped (SIGINT/SIGTERM) or after one capture (``--once``), printing what happens on stderr (or JSON lines
on stdout with ``--json``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crisp_eml.cli.common import err_console

if TYPE_CHECKING:
    from crisp_eml.capture.sources.base import Source

KEY_ENV = "EML_DEVICE_KEY"


def read_key(key: str | None, key_file: Path | None) -> str:
    """The device key from ``--key``, ``--key-file`` or the environment, in that order; one of them only."""
    from crisp_eml.core.errors import InputError

    if key and key_file:
        raise InputError("give --key or --key-file, not both", field="key")
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the key file: {getattr(exc, 'strerror', None) or exc}",
                             source=str(key_file)) from exc
        if not text:
            raise InputError("the key file is empty", source=str(key_file))
        return text
    key = key or os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise InputError(f"no device key: give --key, --key-file or set {KEY_ENV} (make one with "
                         "'eml devices add NAME')", field="key")
    return key


def agent(
    server: Annotated[str, typer.Option(help="The project's server, e.g. http://lab-pc:4800.")],
    source: Annotated[list[str], typer.Option(
        "--source", help="A sensor to serve (repeatable; the first is the default): cmd:<command line> "
                         "(one reading per output line), iio:<IIO device folder or name>, alsa:<ALSA device> or "
                         "serial:<port>, each optionally ending in @HZ (e.g. cmd:python3 imu.py@100).")],
    key: Annotated[str | None, typer.Option(help=f"Device key (eml devices add NAME); or set {KEY_ENV}.")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="File holding the device key.")] = None,
    axes: Annotated[str | None, typer.Option(help="Axis names for cmd: and serial: sources, comma separated "
                                                  "(default: value1, value2...).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Exit after one capture (0 when it was stored).")] = False,
    poll_wait: Annotated[float, typer.Option(help="Seconds each long poll for requests waits (1-25).")] = 25.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object per event on stdout.")] = False,
) -> None:
    """Serve remote captures from this device's sensors: the Studio (or the API, or 'eml devices capture')
    asks for a recording, the agent records it and the server stores the sample (docs/capture.md)."""
    from crisp_eml.capture.lines import parse_axes
    from crisp_eml.capture.sources import from_specs
    from crisp_eml.core.errors import InputError

    if not 1 <= poll_wait <= 25:
        raise InputError(f"must be between 1 and 25 seconds, got {poll_wait:g}", field="poll-wait")
    names = parse_axes(axes) if axes is not None else None
    secret = read_key(key, key_file)
    serve_sources(server, secret, from_specs(source, axes=names), once=once, poll_wait_s=poll_wait,
                  json_out=json_out)


def serve_sources(server: str, key: str, sources: list[Source], *, once: bool = False, poll_wait_s: float = 25.0,
                  json_out: bool = False, device_type: str = "crisp-eml-agent") -> None:
    """Run the agent loop over ``sources`` until SIGINT/SIGTERM (or one capture with ``once``), printing its
    events; ``eml agent`` and the serial bridge (``eml capture serial --server``) both end here. With ``once``,
    a capture that was not stored is an error (exit 1)."""
    import signal
    import threading

    from crisp_eml.capture.agent import Agent
    from crisp_eml.capture.client import DeviceClient
    from crisp_eml.core.errors import EmlError

    stop = threading.Event()

    def show(kind: str, data: dict[str, Any]) -> None:
        if json_out:
            import json
            import sys

            sys.stdout.write(json.dumps({"event": kind, **data}, default=str) + "\n")
            sys.stdout.flush()
        else:
            err_console.print(_describe(kind, data), highlight=False, soft_wrap=True, markup=False)

    def interrupt(_signum: int, _frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    with DeviceClient(server, key, stop=stop) as client:
        runner = Agent(client, sources, on_event=show, poll_wait_s=poll_wait_s, device_type=device_type)
        runner.probe()
        previous = signal.signal(signal.SIGTERM, interrupt)
        try:
            result = runner.run(once=once)
        finally:
            signal.signal(signal.SIGTERM, previous)
    if once and result is not None:
        if json_out:
            show("capture", {"capture": result})
        if result.get("status") != "done":
            raise EmlError(f"capture {result.get('id')} {result.get('status')}: {result.get('error') or ''}")


def _describe(kind: str, data: dict[str, Any]) -> str:
    if kind == "hello":
        device = data["device"]
        return f"connected to {data['server']} as device {device.get('name')!r}; waiting for capture requests"
    if kind == "disconnected":
        return f"server unavailable: {data['error']}; retrying in {data['retry_in_s']:g} s"
    if kind == "capture-start":
        return (f"recording capture {data['id']} ({data.get('label')}): {data['rows']} rows at "
                f"{data['frequency_hz']:g} Hz from {data['sensor']}")
    if kind == "capture-done":
        return f"stored capture {data['id']} as sample {data.get('sample_id')}"
    if kind == "capture-failed":
        return f"capture {data['id']} failed: {data['error']}"
    if kind == "capture-dropped":
        return f"capture {data['id']} dropped: {data['reason']}"
    if kind == "stopped":
        return "agent stopped"
    return f"{kind}: {data}"


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)
