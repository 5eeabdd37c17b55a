"""``eml run``: a library over a CSV of features, a WAV recording and a live stream on stdin; --json lines; bad
inputs give clear errors and exit codes.

Libraries: the MLPerf Tiny keyword model taking features (CSV: one window of 490 features per line; its
results are checked against TensorFlow Lite Micro), and the same network behind an MFCC step in C taking
16 kHz audio (WAV and raw pcm16 on stdin give the same results, equal to the engine's own stream).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crisp_eml.core.errors import InputError, ProjectError

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
EML = Path(sys.executable).parent / "eml"
LABELS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown")
MFCC = {"input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": 16000, "axes": ["audio"]},
        "blocks": [{"type": "mfcc", "params": {"frame_length": 0.03, "frame_stride": 0.02, "num_cepstral": 10,
                                               "num_filters": 40, "fft_length": 512, "win_size": 0}}]}
FS = 16000


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library
    from crisp_eml.workspace.compile import compile_model

    base = tmp_path_factory.mktemp("run-libs")
    compile_model(str(KWS), base / "features", vectors=0, labels=list(LABELS), use_project=False)
    g = strip_float_io(read_tflite(KWS.read_bytes()))
    write_tree(render_library(g, plan_memory(g), RenderOptions(name="kws_mfcc", labels=list(LABELS), dsp=MFCC)),
               base / "mfcc")
    return {"features": base / "features", "mfcc": base / "mfcc", "base": base}


def _audio(seconds: float, seed: int = 1) -> np.ndarray:
    """Exact 16-bit steps (what a 16-bit WAV or pcm16 stream carries): a gliding tone in bursts, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    x = 0.3 * np.sin(2 * np.pi * (300 + 150 * t) * t) * (np.sin(2 * np.pi * t / 1.3) > 0) \
        + 0.01 * rng.standard_normal(t.size)
    return (np.round(np.clip(x, -1, 0.999) * 32768) / 32768).astype(np.float32)


def _lines(out: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert "summary" in recs[-1] and all("summary" not in r for r in recs[:-1])
    return recs[:-1], recs[-1]["summary"]


def test_csv_of_features_equals_tflm(libs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.compiler.verify import tflm_outputs
    from crisp_eml.learn.tflm import TensorInfo, quantize

    rng = np.random.default_rng(4)
    feats = np.round(rng.normal(-10, 25, (6, 490)), 2).astype(np.float32)
    csv = tmp_path / "features.csv"
    csv.write_text("\n".join(",".join(f"{v:g}" for v in row) for row in feats) + "\n")
    code, out, err = run_cli(["run", str(libs["features"]), "--input", str(csv), "--json"])
    assert code == 0, err
    recs, summary = _lines(out)
    q = json.loads((libs["features"] / "MANIFEST.json").read_text())["inputs"][0]
    codes = tflm_outputs(KWS.read_bytes(), quantize(feats, TensorInfo(tuple(q["shape"]), "int8", q["scale"],
                                                                       q["zero_point"])))
    assert [r["window"] for r in recs] == list(range(6)) and all(r["t"] is None for r in recs)
    for rec, c in zip(recs, codes, strict=True):
        assert rec["label"] == LABELS[int(np.argmax(c))]
        assert [rec["classification"][lb] for lb in LABELS] == pytest.approx((c.astype(float) + 128) / 256, abs=1e-6)
    assert summary == {"rows": 6 * 490, "windows": 6, "seconds": None, "trailing_rows": 0, "detections": {}}
    # text output: one line per window, then the summary; a header line and a one-value-per-line file work too
    col = tmp_path / "column.csv"
    col.write_text("feature\n" + "\n".join(f"{v:g}" for v in feats[:2].ravel()) + "\n")
    code, text, err = run_cli(["run", str(libs["features"]), "--input", str(col)])
    assert code == 0, err
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].split()[1] == recs[0]["label"] and "2 window(s)" in lines[-1]


def test_wav_windows_and_continuous(libs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.core.postprocess import PostprocessConfig
    from crisp_eml.data.formats.wav import write_wav
    from crisp_eml.runtime.engine import Engine

    audio = _audio(6.5)
    wav = tmp_path / "clip.wav"
    wav.write_bytes(write_wav(audio[:, None], FS))
    code, out, err = run_cli(["run", str(libs["mfcc"]), "--input", str(wav), "--json"])
    assert code == 0, err
    recs, summary = _lines(out)
    assert [r["t"] for r in recs] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert summary["trailing_rows"] == FS // 2 and summary["seconds"] == 6.5
    thr = ["--threshold", "unknown=0.4", "--threshold", "silence=0.3", "--threshold", "yes=0.2"]
    code, out, err = run_cli(["run", str(libs["mfcc"]), "--input", str(wav), "--continuous", "--json",
                              "--average", "2", "--suppression-ms", "500", *thr])
    assert code == 0, err
    recs, summary = _lines(out)
    assert [r["t"] for r in recs] == [1.0 + 0.25 * i for i in range(23)]
    labels = list(LABELS)
    thresholds = [0.6] * 10 + [0.3, 0.4]
    thresholds[labels.index("yes")] = 0.2
    cfg = PostprocessConfig(2, tuple(thresholds), 2, LABELS)
    with Engine(libs["mfcc"], slices_per_window=4) as eng:
        r = eng.stream(audio[:, None], cfg)
    assert [rec["detection"] for rec in recs] == [labels[d] if d >= 0 else None for d in r.detections]
    np.testing.assert_allclose([[rec["average"][lb] for lb in labels] for rec in recs], r.averages, atol=1e-6)
    assert sum(summary["detections"].values()) == int((r.detections >= 0).sum()) > 0
    # text: detections only, with their time
    code, text, err = run_cli(["run", str(libs["mfcc"]), "--input", str(wav), "--continuous", "--average", "2",
                               "--suppression-ms", "500", *thr])
    assert code == 0, err
    shown = [line for line in text.splitlines() if "DETECTED" in line]
    assert len(shown) == int((r.detections >= 0).sum()) and len(text.splitlines()) == len(shown) + 1
    assert shown[0].split()[0] == f"{recs[next(i for i, x in enumerate(recs) if x['detection'])]['t']:.3f}s"


def test_stdin_pcm16_live_pipe_equals_wav(libs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A live pipe: results come out while stdin is still open; the same results as the WAV file."""
    from crisp_eml.data.formats.wav import write_wav

    audio = _audio(3.0, seed=2)
    wav = tmp_path / "clip.wav"
    wav.write_bytes(write_wav(audio[:, None], FS))
    code, out, err = run_cli(["run", str(libs["mfcc"]), "--input", str(wav), "--continuous", "--json"])
    assert code == 0, err
    expected, _ = _lines(out)
    pcm = (audio * 32768).astype("<i2").tobytes()
    proc = subprocess.Popen([str(EML), "run", str(libs["mfcc"]), "--input", "-", "--format", "pcm16",
                             "--continuous", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    try:
        proc.stdin.write(pcm[:2 * (FS + FS // 4)])  # the first window and one slice, pipe left open
        proc.stdin.flush()
        reader.join(timeout=120)
        assert first and json.loads(first[0])["t"] == 1.0, "no result before the end of the stream"
        proc.stdin.write(pcm[2 * (FS + FS // 4):])
        proc.stdin.close()
        rest, errs = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0, errs
    got, summary = _lines((first[0] + rest).decode())
    assert got == expected and summary["rows"] == 3 * FS


def test_stdin_csv_in_process(libs: dict[str, Path], run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    audio = _audio(1.5, seed=3)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        ("audio\n" + "\n".join(f"{v:.9g}" for v in audio) + "\n").encode())))
    code, out, err = run_cli(["run", str(libs["mfcc"]), "--input", "-", "--continuous", "--json", "--all"])
    assert code == 0, err
    recs, summary = _lines(out)
    assert [r["t"] for r in recs] == [1.0, 1.25, 1.5] and summary["rows"] == len(audio)


def _fails(run_cli, args: list[str], error: type, *fragments: str, cwd: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(args, cwd=cwd)
    message = " ".join(err.split())
    assert code == error.exit_code, (code, out, err)  # type: ignore[attr-defined]
    assert "Traceback" not in err and out == ""
    for f in fragments:
        assert f in message, (f, message)


def test_bad_inputs(libs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.data.formats.wav import write_wav

    mfcc, feats = str(libs["mfcc"]), str(libs["features"])
    slow = tmp_path / "slow.wav"
    slow.write_bytes(write_wav(_audio(1.0)[::2, None], 8000))
    _fails(run_cli, ["run", mfcc, "--input", str(slow)], InputError, str(slow), "8000 Hz", "16000 Hz")
    bad = tmp_path / "bad.csv"
    bad.write_text("audio\n0.1\n0.2\n0.3,0.4\n")
    _fails(run_cli, ["run", mfcc, "--input", str(bad)], InputError, str(bad), "line 4", "2 value(s)")
    text = tmp_path / "text.csv"
    text.write_text("0.1\n0.2\nhello\n")
    _fails(run_cli, ["run", mfcc, "--input", str(text)], InputError, "line 3", "'hello' is not a number")
    _fails(run_cli, ["run", mfcc, "--input", str(tmp_path / "missing.wav")], InputError,
           str(tmp_path / "missing.wav"), "no such file")
    _fails(run_cli, ["run", str(tmp_path), "--input", str(bad)], InputError, str(tmp_path), "no MANIFEST.json")
    _fails(run_cli, ["run", "models:/kws@prod", "--input", str(bad)], ProjectError, "project", cwd=tmp_path)
    _fails(run_cli, ["run", feats, "--input", str(slow)], InputError, "takes features")
    _fails(run_cli, ["run", mfcc, "--input", str(bad), "--average", "3"], InputError, "need --continuous")
    _fails(run_cli, ["run", mfcc, "--input", str(bad), "--continuous", "--threshold", "bogus=0.5"], InputError,
           "unknown label 'bogus'")
    _fails(run_cli, ["run", mfcc, "--input", str(bad), "--continuous", "--threshold", "yes"], InputError,
           "LABEL=PROBABILITY")
    _fails(run_cli, ["run", mfcc, "--input", str(bad), "--continuous", "--average", "65"], InputError,
           "average_windows")
    odd = tmp_path / "odd.raw"
    odd.write_bytes(b"\x01\x02\x03")
    _fails(run_cli, ["run", mfcc, "--input", str(odd), "--format", "pcm16"], InputError, "1 stray byte")
