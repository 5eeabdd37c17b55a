"""``eml capture serial``: record samples from a board printing readings on a serial port (thin).

The work is in :mod:`crisp_eml.workspace.capture_serial`; this module opens the port, asks for axis names when
a person is at the terminal, and shows the recording live (a progress bar and a sparkline per axis) with Rich.
:func:`open_readings` and :func:`record_live` are reusable: anything that records from a serial board (the
serial bridge of ``eml capture serial --server``) opens the port with the first and records with the second.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisp_eml.cli.common import err_console, open_project, print_json

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

    from crisp_eml.capture.recorder import Recorder, Recording
    from crisp_eml.capture.serial_port import Board, SerialReadings

capture_app = typer.Typer(help="Record samples from devices (serial data forwarder).", no_args_is_help=True)
SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 32


def register(app: typer.Typer) -> None:
    """Attach ``eml capture``; idempotent, since ``main()`` may run many times in-process."""
    if not any(g.typer_instance is capture_app for g in app.registered_groups):
        app.add_typer(capture_app, name="capture")


@contextmanager
def open_readings(port: str, baud: int) -> Iterator[tuple[Board, SerialReadings]]:
    """The board at ``port`` (``auto``: the one USB serial port) and its readings; the port is closed after."""
    from crisp_eml.capture.serial_port import SerialReadings, find_board, open_port

    board = find_board(port)
    readings = SerialReadings(open_port(board.port, baud))
    try:
        yield board, readings
    finally:
        readings.close()


def _spark(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * len(SPARK)))] for v in values)


class _LiveView:
    """What the recorder is doing, rendered on each refresh from its public state."""

    def __init__(self, recorder: Recorder, port: str) -> None:
        self.recorder = recorder
        self.port = port

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        r = self.recorder
        if r.phase == "waiting":
            yield f"waiting for steady readings on {self.port} ({r.skipped} line(s) skipped)..."
            return
        if r.phase == "detecting":
            yield f"{r.width} values per line; measuring the sampling rate..."
            return
        rows = list(r.current)
        total = max(1, r.rows_per_sample)
        head = Table.grid(padding=(0, 1))
        head.add_row(f"sample {min(r.sample_index + 1, r.samples_wanted)}/{r.samples_wanted}",
                     ProgressBar(total=total, completed=len(rows), width=40),
                     f"{len(rows)}/{total} rows at {r.frequency_hz:g} Hz"
                     + (f", {r.resyncs} resync(s)" if r.resyncs else ""))
        yield head
        if not rows:
            return
        axes = Table(box=None, padding=(0, 1), show_header=True)
        for head_name in ("axis", "last", "min", "max", ""):
            axes.add_column(head_name, justify="right" if head_name in ("last", "min", "max") else "left")
        for i, name in enumerate(r.axes):
            col = [row[i] for row in rows]
            axes.add_row(name, f"{col[-1]:g}", f"{min(col):g}", f"{max(col):g}", _spark(col[-SPARK_WIDTH:]))
        yield axes


def record_live(recorder: Recorder, *, port: str, show: bool) -> Recording:
    """Run ``recorder`` with a live view on stderr when ``show`` (and stderr is a terminal)."""
    if not (show and err_console.is_terminal):
        return recorder.run()
    from rich.live import Live

    with Live(_LiveView(recorder, port), console=err_console, refresh_per_second=8, transient=True) as live:
        _LIVE.append(live)
        try:
            return recorder.run()
        finally:
            _LIVE.remove(live)


_LIVE: list[Live] = []  # the live view running, paused while asking for axis names


def _ask_axes(width: int, suggestion: list[str]) -> list[str]:
    from crisp_eml.capture.lines import parse_axes

    for live in _LIVE:
        live.stop()
    try:
        text = typer.prompt(f"{width} sensor axes detected. What do you want to call them? Separate the names "
                            "with ','", default=",".join(suggestion), err=True)
        return parse_axes(text)
    finally:
        for live in _LIVE:
            live.start()


def _frequency(text: str) -> float | None:
    from crisp_eml.core.errors import InputError

    if text.strip().lower() == "auto":
        return None
    try:
        hz = float(text)
    except ValueError:
        raise InputError(f"expected 'auto' or a rate in Hz, got {text!r}", field="frequency") from None
    if not 0 < hz < float("inf"):
        raise InputError(f"the frequency must be a positive number of Hz, got {text!r}", field="frequency")
    return hz


@capture_app.command("serial")
def serial(
    label: Annotated[str | None, typer.Option(help="Label of every recorded sample (required unless --server).")
                     ] = None,
    port: Annotated[str, typer.Option(help="Serial port (/dev/ttyACM0, COM3), or 'auto': the one USB serial "
                                           "port.")] = "auto",
    baud: Annotated[int, typer.Option(help="Baud rate the board prints at.")] = 115200,
    frequency: Annotated[str, typer.Option(help="'auto' (measured from the stream) or the rate in Hz.")] = "auto",
    axes: Annotated[str | None, typer.Option(help="Axis names, comma separated (default: remembered for this "
                                                  "board, else asked, else value1, value2...).")] = None,
    samples: Annotated[int, typer.Option(help="How many samples to record, back to back.")] = 1,
    length_ms: Annotated[float, typer.Option(help="Length of each sample in ms.")] = 10000,
    category: Annotated[str, typer.Option(help="training, testing or split (by content hash, 80/20).")] = "split",
    keep_partial: Annotated[bool, typer.Option(
        "--keep-partial", help="If the board disconnects, ingest what was recorded (the exit code still says "
                               "it was cut short).")] = False,
    allow_duplicates: Annotated[bool, typer.Option(help="Keep samples whose content already exists.")] = False,
    server: Annotated[str | None, typer.Option(
        help="Serve this board to a project's server instead (the serial bridge): the Studio, the API or 'eml "
             "devices capture' ask for recordings, as from 'eml agent'. Needs a device key.")] = None,
    key: Annotated[str | None, typer.Option(help="With --server: the device key (eml devices add NAME --kind "
                                                 "serial-bridge); or set EML_DEVICE_KEY.")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="With --server: a file holding the key.")
                        ] = None,
    once: Annotated[bool, typer.Option("--once", help="With --server: exit after one capture.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON (with --server: one JSON "
                                                          "object per event).")] = False,
) -> None:
    """Record samples from a board printing one reading per line (values separated by comma, tab or space),
    as Edge Impulse's data forwarder does, and ingest them; exits 0 only when all of them were ingested.
    With --server, bridge the board to a team server so recordings can be started remotely."""
    from crisp_eml.capture.lines import parse_axes
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.capture_serial import capture_serial, check_capture_options

    hz = _frequency(frequency)
    names = parse_axes(axes) if axes is not None else None
    if server is not None:
        from crisp_eml.capture.sources.serial import SerialSource
        from crisp_eml.cli.agent import read_key, serve_sources

        serve_sources(server, read_key(key, key_file), [SerialSource(port, baud, frequency_hz=hz, axes=names)],
                      once=once, json_out=json_out, device_type="crisp-eml-serial-bridge")
        return
    if label is None:
        raise InputError("give the label of the samples to record (or --server to bridge the board)",
                         field="label")
    check_capture_options(label, category, samples, length_ms, hz)
    project = open_project()
    interactive = sys.stdin.isatty() and not json_out

    def warn(message: str) -> None:
        err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)

    with open_readings(port, baud) as (board, readings):
        result = capture_serial(
            project, readings, board=board, label=label, samples=samples, length_ms=length_ms, frequency_hz=hz,
            axes=names, ask_axes=_ask_axes if interactive else None, category=category, keep_partial=keep_partial,
            allow_duplicates=allow_duplicates, record=partial(record_live, port=board.port, show=not json_out),
            on_warning=None if json_out else warn)
    rec, report = result.recording, result.report
    if json_out:
        print_json(result.to_dict())
    else:
        for note in result.notes:
            warn(note)
        for f in report.failures:
            err_console.print(f"[red]failed:[/] {f.reason}", highlight=False, soft_wrap=True)
        typer.echo(f"Recorded {len(rec.complete)} sample(s) of {rec.rows_per_sample} rows at {rec.frequency_hz:g} Hz "
                   f"({', '.join(rec.axes)}) from {board.port}; ingested {len(report.samples)}.")
    if rec.ended is not None:
        raise InputError(f"{rec.ended}: {len(rec.complete)} of {samples} sample(s) recorded"
                         + (", plus a partial one" if len(rec.samples) > len(rec.complete) else "")
                         + f"; {len(report.samples)} ingested (--keep-partial)", source=board.port)
    if not result.ok:
        why = "; ".join(f.reason for f in report.failures[:3])
        raise InputError(f"{len(report.failures)} of {len(rec.samples)} sample(s) failed to ingest ({why}); "
                         f"{len(report.samples)} ingested")
