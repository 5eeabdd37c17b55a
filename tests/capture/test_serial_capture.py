"""``eml capture serial`` against a simulated board on a pseudo-terminal: real serial reads (pyserial on a pty),
start-up garbage, a reset mid-stream, a changed value count and a disconnect; samples checked against what the
board printed (length, rate within 1 %, values, labels), and nothing stored when a recording fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from conftest import invoke_cli
from crisp_eml.data.samples import list_samples, load_array
from crisp_eml.store.project import Project
from crisp_eml.store.tables.devices import DeviceRow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_board import FakeBoard  # noqa: E402

HZ = 200.0
BOOT = [["wait_open"], ["bytes", "\x00\xff\xfe~~\x1b[0m"], ["line", "ets Jun  8 2016 00:22:57"],
        ["line", "rst:0x1 (POWERON_RESET),boot:0x13"], ["line", "IMU ready"]]


@pytest.fixture()
def root(project: Project) -> Path:
    return project.root


def capture(root: Path, board: FakeBoard, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    rc, out, err = invoke_cli(["capture", "serial", "--port", board.port, "--baud", "115200", "--json", *args],
                              cwd=root)
    return rc, (json.loads(out) if out.strip() else None), err


def stored(root: Path) -> list[tuple[Any, np.ndarray]]:
    p = Project.open(root)
    return [(s, load_array(p, s)) for s in sorted(list_samples(p), key=lambda s: s.name)]


def devices(root: Path) -> list[DeviceRow]:
    with Project.open(root).read_session() as s:
        return list(s.execute(select(DeviceRow)).scalars())


def run_start(printed: list[list[float]], rows: np.ndarray) -> int:
    """Where ``rows`` (float32) start in what the board printed, checking they follow one another from there."""
    want = np.asarray(printed, dtype=np.float32)
    starts = [i for i in range(len(want) - len(rows) + 1) if np.array_equal(want[i], rows[0])]
    assert len(starts) == 1, f"the sample's first row was printed {len(starts)} times"
    i = starts[0]
    np.testing.assert_array_equal(want[i:i + len(rows)], rows)  # exactly the readings, in order, none missing
    return i


def test_records_exact_samples_at_the_detected_rate_and_remembers_the_axes(root: Path, tmp_path: Path) -> None:
    with FakeBoard(tmp_path, [*BOOT, ["readings", -1, 3]], hz=HZ) as board:
        rc, report, err = capture(root, board, "--label", "wave", "--axes", "accX,accY,accZ", "--samples", "2",
                                  "--length-ms", "500", "--frequency", "auto")
        board.stop()
        printed = board.readings()
        times = [t for kind, t, _ in board.printed() if kind == "R"]
    assert rc == 0, err
    assert report is not None and report["ok"] and report["ingested"] == 2 and report["failed"] == 0
    assert report["values_per_line"] == 3 and report["rows_per_sample"] == 100
    detected = report["frequency"]["detected"]
    assert detected is not None and detected["frequency_hz"] == HZ
    board_hz = (len(times) - 1) / (times[-1] - times[0])  # the rate the board really printed at
    assert abs(report["frequency"]["frequency_hz"] - board_hz) / board_hz < 0.01
    assert abs(detected["measured_hz"] - board_hz) / board_hz < 0.05

    samples = stored(root)
    assert [(s.label, s.length, s.frequency_hz, s.axes) for s, _ in samples] == [
        ("wave", 100, HZ, ["accX", "accY", "accZ"])] * 2
    assert all(s.source == f"serial:{board.port}/{s.name}.json" for s, _ in samples)
    first = run_start(printed, samples[0][1])
    assert run_start(printed, samples[1][1]) == first + 100  # back to back: no reading lost between samples
    assert samples[0][0].device_name == f"serial:{board.port}"

    # the same listing scripts use
    rc, out, _ = invoke_cli(["data", "ls", "--json"], cwd=root)
    assert rc == 0 and sorted((x["frequency_hz"], x["length"], x["label"]) for x in json.loads(out)) == [
        (HZ, 100, "wave")] * 2

    (dev,) = devices(root)
    assert (dev.kind, dev.name, dev.salt, dev.member) == ("serial", f"serial:{board.port}", None, "tester")
    assert dev.sensors[0]["axes"] == ["accX", "accY", "accZ"] and dev.sensors[0]["frequency_hz"] == HZ



def test_axes_are_remembered_per_board(root: Path, tmp_path: Path) -> None:
    with FakeBoard(tmp_path, [["wait_open"], ["readings", -1, 2]], hz=HZ, sep="\t") as board:
        rc, report, err = capture(root, board, "--label", "a", "--axes", "left,right", "--length-ms", "200",
                                  "--frequency", "200")
        assert rc == 0, err
        assert report is not None and report["device"]["axes_source"] == "given"
        # the same board again, no --axes: not asked (nobody at a terminal here) but remembered
        rc, report, err = capture(root, board, "--label", "b", "--length-ms", "200", "--frequency", "200")
        assert rc == 0, err
        assert report is not None and report["device"]["axes_source"] == "remembered"
    assert [s.axes for s, _ in stored(root)] == [["left", "right"]] * 2
    assert len(devices(root)) == 1


def test_axes_are_asked_when_unknown_and_default_names_otherwise(project: Project) -> None:
    from crisp_eml.capture.serial_port import Board, Reading
    from crisp_eml.workspace.capture_serial import capture_serial

    def stream(seed: int) -> list[Reading]:
        return [Reading(i / 100, [float(i + seed), float(-i)], "") for i in range(200)]

    asked: list[tuple[int, list[str]]] = []

    def ask(width: int, suggestion: list[str]) -> list[str]:
        asked.append((width, suggestion))
        return ["pitch", "roll"]

    board = Board("/dev/ttyUSB7", "usb:ABC123", {"vid_pid": "2341:0043"})
    other = Board("/dev/ttyUSB8", "usb:XYZ", {})
    got = capture_serial(project, stream(0), board=board, label="l", length_ms=500, ask_axes=ask)
    assert got.ok and got.axes_source == "asked" and got.recording.axes == ["pitch", "roll"]
    assert got.recording.frequency_hz == 100 and asked == [(2, ["value1", "value2"])]
    again = capture_serial(project, stream(1000), board=board, label="l", length_ms=500, ask_axes=ask)
    assert again.axes_source == "remembered" and len(asked) == 1  # asked once per board
    plain = capture_serial(project, stream(2000), board=other, label="l", length_ms=500)
    assert plain.axes_source == "default" and plain.recording.axes == ["value1", "value2"]


def test_a_reset_mid_sample_restarts_it_after_the_banner(root: Path, tmp_path: Path) -> None:
    script: list[list[Any]] = [*BOOT, ["readings", 60, 3], ["line", "rst:0xc (SW_CPU_RESET),boot:0x13"],
                               ["line", "IMU ready"], ["readings", -1, 3]]
    with FakeBoard(tmp_path, script, hz=HZ, sep=" ") as board:
        rc, report, err = capture(root, board, "--label", "reset", "--axes", "x,y,z", "--length-ms", "500",
                                  "--frequency", "200")
        board.stop()
        printed = board.readings()
    assert rc == 0, err
    assert report is not None and report["resyncs"] >= 1 and report["skipped_lines"] >= 1
    ((sample, values),) = stored(root)
    assert sample.length == 100 and sample.label == "reset"
    assert run_start(printed, values) >= 60  # nothing from before the reset: the sample has no gap


def test_a_changed_number_of_values_is_refused_and_nothing_is_stored(root: Path, tmp_path: Path) -> None:
    script: list[list[Any]] = [["wait_open"], ["readings", 60, 3], ["line", "firmware v2"], ["readings", -1, 4]]
    with FakeBoard(tmp_path, script, hz=HZ) as board:
        rc, report, err = capture(root, board, "--label", "x", "--axes", "a,b,c", "--length-ms", "1000",
                                  "--frequency", "200")
    assert rc == 2 and report is None
    assert "the board now prints 4 values per line, it printed 3 (a, b, c)" in err
    assert "nothing was stored" in err
    assert stored(root) == [] and devices(root) == []


def test_a_disconnect_stores_nothing_unless_asked(root: Path, tmp_path: Path) -> None:
    script: list[list[Any]] = [["wait_open"], ["readings", 160, 3], ["exit"]]
    with FakeBoard(tmp_path, script, hz=HZ) as board:
        rc, report, err = capture(root, board, "--label", "cut", "--axes", "a,b,c", "--samples", "2",
                                  "--length-ms", "500", "--frequency", "200")
    assert rc == 2 and report is None
    assert "the board disconnected" in err and "1 complete sample(s) were recorded and dropped" in err
    assert "--keep-partial" in err and "nothing was stored" in err
    assert stored(root) == [] and devices(root) == []

    with FakeBoard(tmp_path, script, hz=HZ) as board:
        rc, report, err = capture(root, board, "--label", "cut", "--axes", "a,b,c", "--samples", "2",
                                  "--length-ms", "500", "--frequency", "200", "--keep-partial")
        printed = board.readings()
    assert rc == 2, err  # not all samples: the exit code says so
    assert report is not None and not report["ok"] and report["ended"] and "disconnected" in report["ended"]
    assert report["samples_recorded"] == 1 and report["partial_samples"] == 1 and report["ingested"] == 2
    assert "1 of 2 sample(s) recorded, plus a partial one; 2 ingested" in err
    samples = stored(root)
    lengths = sorted(s.length for s, _ in samples)
    assert lengths[1] == 100 and 2 <= lengths[0] < 100
    partial = next(s for s, _ in samples if s.length < 100)
    assert partial.metadata.get("partial") == "true"
    for _, values in samples:
        run_start(printed, values)


@pytest.mark.parametrize(("args", "message"), [
    (["--frequency", "fast"], "expected 'auto' or a rate in Hz, got 'fast'"),
    (["--frequency", "-3"], "the frequency must be a positive number"),
    (["--axes", "a,,b"], "empty axis name"),
    (["--axes", "a,b,a"], "axis names must be unique, a repeated"),
    (["--port", "/dev/no-such-board"], "cannot open the serial port"),
    (["--category", "sideways"], "category must be one of"),
    (["--samples", "0"], "the number of samples must be at least 1"),
    (["--length-ms", "0"], "the sample length must be a positive number of ms"),
    (["--label", " "], "label must not be empty"),
])
def test_bad_options_are_refused_before_recording(root: Path, args: list[str], message: str) -> None:
    rc, out, err = invoke_cli(["capture", "serial", "--port", "/dev/no-such-board", "--label", "x", *args], cwd=root)
    assert rc == 2 and message in " ".join(err.split()), err
    assert stored(root) == []


def test_the_live_view_shows_progress_and_each_axis() -> None:
    import io

    from rich.console import Console

    from crisp_eml.capture.recorder import Recorder
    from crisp_eml.capture.serial_port import Reading
    from crisp_eml.cli.capture import _LiveView

    rec = Recorder([Reading(i / 100, [float(i), 5.0 - i], "") for i in range(20)], samples=3, length_ms=1000,
                   frequency_hz=100, name_axes=lambda w: ["ax", "ay"])

    def render() -> str:
        out = io.StringIO()
        Console(file=out, width=120, color_system=None).print(_LiveView(rec, "/dev/pts/9"))
        return out.getvalue()

    assert "waiting for steady readings on /dev/pts/9" in render()
    with pytest.raises(Exception, match="ended"):
        rec.run()  # 20 readings: the first sample is in progress when the stream ends
    rec.phase = "recording"
    shown = render()
    assert "sample 1/3" in shown and "14/100 rows at 100 Hz" in shown
    assert "ax" in shown and "19" in shown and "-14" in shown and "▁" in shown and "█" in shown
