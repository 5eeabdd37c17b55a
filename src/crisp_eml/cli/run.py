"""``eml run MODEL_OR_LIBRARY --input FILE|-``: a model over a recording or a live stream (thin: parse, call, print).

Output contract (docs/cli.md): text prints one line per window (windows mode) or per detection (continuous
mode; ``--all``: every result), timestamps in seconds at the window's end, then a summary line. ``--json``
prints one JSON object per line as results complete (flushed, so a live pipe sees them at once) and, last, one
``{"summary": {...}}`` line (rows, windows, seconds, trailing_rows, detections per label).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from crisp_eml.cli.common import err_console, progress
from crisp_eml.core.errors import InputError

HELP_INPUT = ("A .wav, .csv, Edge Impulse .json/.cbor file, or '-' for stdin (CSV lines, or raw samples with "
              "--format pcm16|f32).")


def _thresholds(items: list[str]) -> tuple[tuple[str, float], ...]:
    out = []
    for item in items:
        label, sep, value = item.rpartition("=")
        try:
            p = float(value)
        except ValueError:
            p = float("nan")
        if not sep or not label or not p >= 0 or p == float("inf"):
            raise InputError(f"expected LABEL=PROBABILITY (a number >= 0), got {item!r}", field="threshold")
        out.append((label, p))
    return tuple(out)


def _text(rec: dict[str, Any], continuous: bool, show_all: bool) -> str | None:
    t = f"{rec['t']:10.3f}s" if rec["t"] is not None else f"#{rec['window']}".rjust(11)
    if "anomaly" in rec:
        return f"{t}  anomaly {rec['anomaly']:.4f}"
    scores = rec["classification"]
    if not continuous:
        line = f"{t}  {rec['label']:<16} {scores[rec['label']]:.4f}"
        return line + ("  " + " ".join(f"{k}={v:.3f}" for k, v in scores.items()) if show_all else "")
    det = rec["detection"]
    if det is None and not show_all:
        return None
    if det is not None and not show_all:
        return f"{t}  DETECTED {det:<16} average {rec['average'][det]:.4f}"
    avg = " ".join(f"{k}={v:.3f}" for k, v in rec["average"].items())
    return f"{t}  {'DETECTED ' + det if det else '-':<24} {avg}"


def run_cmd(
    model: Annotated[str, typer.Argument(help="A compiled library folder, a .tflite file or models:/name@alias "
                                              "(needs a project).")],
    input_path: Annotated[str, typer.Option("--input", "-i", help=HELP_INPUT)],
    continuous: Annotated[bool, typer.Option("--continuous", help="A result every slice of a window, with "
                                                                  "post-processing and detections.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="How to read stdin or a file without a known "
                                                            "extension: csv (default), pcm16, f32 (raw "
                                                            "little-endian, axes interleaved).")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Text: print every result with all scores, not only "
                                                         "detections.")] = False,
    average: Annotated[int | None, typer.Option("--average", help="Moving average over N windows (1-64).")] = None,
    threshold: Annotated[list[str] | None, typer.Option("--threshold", help="Detection threshold LABEL=P "
                                                        "(repeatable; P > 1 never detects the label).")] = None,
    suppression_ms: Annotated[float | None, typer.Option("--suppression-ms", help="No detection for this long "
                                                         "after one.")] = None,
    slices: Annotated[int | None, typer.Option("--slices", help="Continuous mode: results per window length "
                                                                "(default 4).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object per result, then a summary "
                                                          "line.")] = False,
    review_server: Annotated[str | None, typer.Option("--review-server", help="Upload flagged windows to this "
                                                      "crisp-eml server's review queue (eml serve URL).")] = None,
    device_key: Annotated[str | None, typer.Option("--device-key", envvar="EML_DEVICE_KEY",
                                                   help="This device's key for --review-server (eml devices "
                                                        "add NAME).")] = None,
    flag_below: Annotated[float | None, typer.Option("--flag-below", help="Upload windows whose top score is "
                                                     "below P (classifiers).")] = None,
    flag_anomaly_above: Annotated[float | None, typer.Option("--flag-anomaly-above", help="Upload windows whose "
                                                             "anomaly score is above X (anomaly models).")] = None,
) -> None:
    """Run a model on a long recording or a stream on stdin, printing timestamped results.

    Without --continuous: consecutive non-overlapping windows, one result each. With it: a result every
    window/--slices rows once the first window is full, through the post-processing (moving average, per-label
    thresholds, suppression; a registered model's calibrated setting, else the defaults; options override).
    Times are seconds at the window's end. --json: one object per line as results complete, {"t", "window",
    "classification", "label"} (windows) or {"t", "window", "classification", "average", "detection"}
    (continuous; "t" is null for a library without a sampling frequency), then a last {"summary": {...}} line.
    """
    from crisp_eml.runtime.stream_input import open_input
    from crisp_eml.workspace.run_stream import (
        RunSettings,
        RunSummary,
        open_model,
        postprocess_for,
        run_input,
        window_records,
    )

    settings = RunSettings(continuous, slices, average, _thresholds(threshold or []), suppression_ms)
    if not continuous and (average is not None or threshold or suppression_ms is not None or slices is not None):
        raise InputError("--average, --threshold, --suppression-ms and --slices need --continuous",
                         field="continuous")
    if input_path != "-" and not Path(input_path).is_file():
        raise InputError("no such file", source=input_path)
    review = _review_options(review_server, device_key, flag_below, flag_anomaly_above)
    out = sys.stdout
    with open_model(model, settings) as loaded:
        cfg = postprocess_for(loaded, settings) if continuous and loaded.shape.is_classifier else None
        uploader = None if review is None else _uploader(loaded, review, input_path)
        stdin: BinaryIO = getattr(sys.stdin, "buffer", None) or sys.stdin  # type: ignore[assignment]
        source = open_input(input_path, loaded.shape, fmt=fmt, stdin=stdin)
        summary = RunSummary()
        index = 0
        with progress(disable=json_out or source.total is None) as bar:
            task = bar.add_task(source.name, total=source.total)
            for batch in run_input(loaded, source, cfg, summary):
                records = list(window_records(loaded, batch, index, continuous))
                for rec in records:
                    line = json.dumps(rec) if json_out else _text(rec, continuous, show_all)
                    if line is not None:
                        out.write(line + "\n")
                if uploader is not None and batch.rows is not None:
                    uploader.feed(batch.rows)
                    uploader.offer(records, batch.result.end_rows)
                index += len(batch.result.end_rows)
                out.flush()
                bar.update(task, completed=batch.done)
        info = summary.to_dict(loaded.shape)
        if uploader is not None:
            uploader.close()
            info["review"] = uploader.report()
            err_console.print(f"review: {uploader.flagged} window(s) flagged, {uploader.uploaded} uploaded to "
                              f"{review_server}, {uploader.failed} failed", highlight=False)
        if json_out:
            out.write(json.dumps({"summary": info}) + "\n")
        else:
            secs = f"{info['seconds']:.3f} s, " if info["seconds"] is not None else ""
            dets = ", ".join(f"{k} x{v}" for k, v in sorted(info["detections"].items())) or "none"
            out.write(f"{info['windows']} window(s) over {secs}{info['rows']} row(s); "
                      + (f"detections: {dets}" if continuous else f"{info['trailing_rows']} trailing row(s) "
                         "not in a full window") + "\n")
        if summary.windows == 0:
            err_console.print(f"[yellow]warning:[/] the input holds {summary.rows} row(s), fewer than one window "
                              f"({loaded.shape.window_rows})")


def _review_options(server: str | None, key: str | None, below: float | None, above: float | None) -> Any:
    """The ``--review-server`` settings (None without it); the flags without a server are refused."""
    if server is None:
        if key is not None and below is None and above is None:
            return None  # a key from $EML_DEVICE_KEY alone asks for nothing
        if below is not None or above is not None:
            raise InputError("--flag-below and --flag-anomaly-above need --review-server URL", field="review_server")
        return None
    from crisp_eml.workspace.review_upload import ReviewOptions

    return ReviewOptions(server, key or "", below, above)


def _uploader(loaded: Any, review: Any, input_path: str) -> Any:
    from crisp_eml.workspace.review_upload import make_uploader

    return make_uploader(loaded, review, "<stdin>" if input_path == "-" else str(Path(input_path).resolve()))


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
