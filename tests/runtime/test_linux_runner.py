"""The static command-line runner (``NAME-run``, runtime/c/linux_main.c) on the BasicMotions classifier.

Windows from CSV rows, whole windows per line (``--features``) and raw 16-bit PCM must give the library's own
results (the same C through ctypes: identical floats); ``--continuous`` must give the stream driver's windows,
moving averages and detections, which must also equal the pure-Python post-processing twin. Malformed input
exits 2 naming the line and the column.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from eim_helpers import (  # noqa: F401  (motion is a fixture)
    SLICE_ROWS,
    WINDOW_ROWS,
    Motion,
    codes_of,
    motion,
    split_recordings,
    split_windows,
)

from crisp_eml.runtime.engine import Engine

HEADER = "accX,accY,accZ,gyrX,gyrY,gyrZ\n"


def _run(m: Motion, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(m.run), *args], input=stdin, capture_output=True, timeout=120)


def _csv(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows)


def _lines(out: bytes) -> list[dict[str, object]]:
    return [json.loads(x) for x in out.decode().splitlines()]


@pytest.fixture(scope="module")
def engine(motion: Motion) -> Iterator[Engine]:  # noqa: F811
    with Engine(motion.lib) as eng:
        yield eng


def test_csv_windows_match_the_library(motion: Motion, engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    rows = np.concatenate([r for _, r in split_recordings()])  # 4000 rows: 200 windows, 10 rows per second
    (tmp_path / "in.csv").write_text(HEADER + _csv(rows) + "1,2,3,4,5,6\n")  # + one row that fills no window
    r = _run(motion, "--json", str(tmp_path / "in.csv"))
    assert r.returncode == 0, r.stderr
    assert b"the last 1 rows do not fill a window of 20 rows" in r.stderr
    got = _lines(r.stdout)
    assert len(got) == len(rows) // WINDOW_ROWS == 200
    for i, line in enumerate(got):
        want = engine.classify(rows[i * WINDOW_ROWS:(i + 1) * WINDOW_ROWS])
        assert line["t"] == 2.0 * (i + 1)
        scores = np.array([line["classification"][lb] for lb in motion.labels], np.float32)  # type: ignore[index]
        np.testing.assert_array_equal(scores, want.scores)
        assert line["label"] == motion.labels[want.label_index]
    # the text form, from stdin
    r = _run(motion, "-", stdin=(HEADER + _csv(rows[:20])).encode())
    assert r.returncode == 0 and r.stdout.decode().startswith(f"t=2.000s {got[0]['label']} ")
    assert all(f" {lb}=" in r.stdout.decode() for lb in motion.labels)


def test_features_lines_match_the_library(motion: Motion, engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    windows, _ = split_windows()
    text = "".join(", ".join(repr(float(v)) for v in w.ravel()) + "\r\n" for w in windows)
    (tmp_path / "w.txt").write_text(text)
    r = _run(motion, "--features", "--json", str(tmp_path / "w.txt"))
    assert r.returncode == 0, r.stderr
    got = _lines(r.stdout)
    assert len(got) == len(windows) == 680
    scores = np.array([[g["classification"][lb] for lb in motion.labels] for g in got], np.float32)  # type: ignore[index]
    np.testing.assert_array_equal(scores, np.stack([engine.classify(w).scores for w in windows]))


def test_continuous_matches_stream_driver_and_python_postprocessing(motion: Motion, engine: Engine,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    from crisp_eml.core.postprocess import PostprocessConfig, detections

    recs = split_recordings()
    rows = np.concatenate([recs[0][1], recs[15][1], recs[-1][1]])  # badminton, running, walking: 300 rows
    (tmp_path / "s.csv").write_text(_csv(rows))
    r = _run(motion, "--continuous", "--json", str(tmp_path / "s.csv"))
    assert r.returncode == 0, r.stderr
    got = _lines(r.stdout)
    ref = engine.stream(rows)
    assert len(got) == len(ref.end_rows) == (len(rows) - WINDOW_ROWS) // SLICE_ROWS + 1
    scale, zp = motion.output_quant
    labels = motion.labels
    for g, end, sc, avg, det in zip(got, ref.end_rows, ref.scores, ref.averages, ref.detections, strict=True):
        assert set(g) == {"t", "classification", "average", "detection"}
        assert g["t"] == pytest.approx(int(end) / 10.0, abs=0)
        np.testing.assert_array_equal(np.array([g["classification"][lb] for lb in labels], np.float32), sc)  # type: ignore[index]
        np.testing.assert_array_equal(np.array([g["average"][lb] for lb in labels], np.float32), avg)  # type: ignore[index]
        assert g["detection"] == (labels[det] if det >= 0 else None)
    # the pure-Python twin on the runner's own codes gives the same detections
    codes = codes_of(np.array([[g["classification"][lb] for lb in labels] for g in got], np.float32), scale, zp)  # type: ignore[index]
    py = detections(codes, PostprocessConfig.default(labels, WINDOW_ROWS // SLICE_ROWS), scale, zp)
    assert [labels[d] if d >= 0 else None for d in py] == [g["detection"] for g in got]
    assert {"badminton", "running", "walking"} <= {g["detection"] for g in got}
    # text form
    r = _run(motion, "--continuous", str(tmp_path / "s.csv"))
    assert r.returncode == 0 and r.stdout.decode().count("DETECTED") == sum(g["detection"] is not None for g in got)


def test_raw_pcm_input(motion: Motion, engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    rng = np.random.default_rng(3)
    pcm = rng.integers(-32768, 32767, size=(2 * WINDOW_ROWS, 6), dtype=np.int16)
    (tmp_path / "in.raw").write_bytes(pcm.astype("<i2").tobytes())
    r = _run(motion, "--raw", "--json", str(tmp_path / "in.raw"))
    assert r.returncode == 0, r.stderr
    got = _lines(r.stdout)
    rows = pcm.astype(np.float32) / 32768.0
    assert len(got) == 2
    for i, g in enumerate(got):
        want = engine.classify(rows[i * WINDOW_ROWS:(i + 1) * WINDOW_ROWS]).scores
        np.testing.assert_array_equal(np.array([g["classification"][lb] for lb in motion.labels], np.float32), want)  # type: ignore[index]
    (tmp_path / "odd.raw").write_bytes(pcm.astype("<i2").tobytes()[:-3])
    r = _run(motion, "--raw", str(tmp_path / "odd.raw"))
    assert r.returncode == 2 and b"ends inside a row" in r.stderr


@pytest.mark.parametrize(("args", "text", "message"), [
    ([], HEADER + "1,2,3,4,5,6\n1,2,x,4,5,6\n", "line 3, column 5 (field 3): 'x' is not a number"),
    ([], "1,2,3,4,5,6\nax,ay,az,gx,gy,gz\n", "line 2, column 1 (field 1): 'ax' is not a number"),
    ([], "1,2,3\n", "line 1: 3 values, expected 6 (one per axis)"),
    ([], "1,2,3,4,5,nan\n", "line 1, column 11 (field 6): 'nan' is not a number"),
    ([], "1,2,3,4,5,1e99\n", "line 1, column 11 (field 6): '1e99' is beyond the float32 range"),
    ([], "1,2,3,4,5,\n", "line 1, column 11 (field 6): '' is not a number"),
    (["--features"], "1,2,3\n", "line 1: 3 values, expected 120"),
    (["--continuous"], "1,2,3,4,5,6\n\n 7 , 8,9,10,11,0x1\n", "line 3, column 16 (field 6): '0x1' is not a number"),
])
def test_malformed_input_exits_2_naming_line_and_column(motion: Motion, args: list[str], text: str,  # noqa: F811
                                                        message: str) -> None:
    r = _run(motion, *args, "-", stdin=text.encode())
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.decode().strip() == f"stdin: {message}"


def test_bad_usage(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    for args, why in ((["--bogus", "-"], "unknown option --bogus"), ([], "usage"),
                      (["--features", "--continuous", "-"], "cannot be combined"),
                      ([str(tmp_path / "missing.csv")], "cannot open")):
        r = _run(motion, *args)
        assert r.returncode == 2 and why in r.stderr.decode(), (args, r.stderr)


def test_aarch64_runner_under_qemu_is_byte_identical(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    import shutil

    from crisp_eml.runtime.build import build_program

    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        pytest.fail("qemu-aarch64 is not installed (Debian: apt-get install qemu-user)")
    arm = build_program(motion.lib, "linux", tmp_path / "motion-run-aarch64", arch="aarch64")
    rows = np.concatenate([r for _, r in split_recordings()[::8]])  # 5 recordings, 500 rows
    (tmp_path / "s.csv").write_text(HEADER + _csv(rows))
    for args in (["--json"], ["--continuous", "--json"], ["--continuous"]):
        x86 = _run(motion, *args, str(tmp_path / "s.csv"))
        a64 = subprocess.run([qemu, str(arm), *args, str(tmp_path / "s.csv")], capture_output=True, timeout=300)
        assert x86.returncode == a64.returncode == 0, a64.stderr
        assert a64.stdout == x86.stdout and len(x86.stdout.splitlines()) >= 25
