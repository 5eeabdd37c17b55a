"""The ``wasm`` deployment: the generated library built with Debian's emscripten, driven under Debian's Node
through the generated ES module, byte for byte against TensorFlow Lite Micro; its stream mode (sliding window,
slices, post-processing in C) equal to the Python twin (``core.postprocess``) on long streams.

Models: MLPerf Tiny KWS (features in, 12 outputs) and the runtime tests' BasicMotions classifier (``eim_helpers``:
trained and compiled through the CLI, spectral DSP in C, 6 axes at 10 Hz), on the real test recordings played back
to back as one stream; the demo page runs in Debian's chromium under its own CSP. Missing ``emcc`` or
``node`` fails the tests (naming the Debian packages); they are never skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eim_helpers import BASIC_MOTIONS, Motion, motion, split_recordings, split_windows, tflm_codes  # noqa: F401

from crisp_eml.compiler.verify import load_vectors, random_vectors, tflm_outputs
from crisp_eml.core.errors import ToolMissingError, VerificationError
from crisp_eml.core.postprocess import PostprocessConfig, Postprocessor
from crisp_eml.runtime import wasm_build
from crisp_eml.runtime.wasm_build import build_wasm

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "wasm_driver.mjs"
KWS = HERE.parents[1].parent / "shared" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"


def require_tools() -> str:
    missing = [f"{exe} (Debian package {pkg})" for exe, pkg in (("emcc", "emscripten"), ("node", "nodejs"))
               if shutil.which(exe) is None]
    if missing:
        pytest.fail(f"the wasm tests need {', '.join(missing)}: apt-get install emscripten nodejs")
    return str(shutil.which("node"))


def node(*args: str | Path) -> str:
    proc = subprocess.run([require_tools(), str(DRIVER), *map(str, args)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def dequantize(codes: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Floats the library quantizes back to exactly ``codes``."""
    return ((codes.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)


def score_of(codes: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The C dequantization: ``(float)((double)scale * (code - zero_point))``."""
    return (float(np.float32(scale)) * (codes.astype(np.float64) - zero_point)).astype(np.float32)


@pytest.fixture(scope="module")
def kws_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crisp_eml.workspace.compile import compile_model

    require_tools()
    out = tmp_path_factory.mktemp("kws") / "lib"
    compile_model(str(KWS), out, use_project=False, vectors=8)
    return out


@pytest.fixture(scope="module")
def kws_wasm(kws_lib: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_wasm(kws_lib, tmp_path_factory.mktemp("kws") / "web")


def test_kws_classify_is_tflm_byte_for_byte(kws_lib: Path, kws_wasm: dict[str, Any], tmp_path: Path) -> None:
    vec, _, model, manifest = load_vectors(kws_lib)
    inp, out = manifest["inputs"][0], manifest["outputs"][0]
    codes_in = np.concatenate([vec, random_vectors(vec.shape[1], 24, seed=5)])
    dequantize(codes_in, inp["scale"], inp["zero_point"]).tofile(tmp_path / "in.f32")
    mjs = Path(kws_wasm["out_dir"]) / "kws_ref_model.mjs"
    node(mjs, "classify", tmp_path / "in.f32", tmp_path / "codes.bin", tmp_path / "scores.f32")
    got = np.fromfile(tmp_path / "codes.bin", np.int8).reshape(len(codes_in), -1)
    want = tflm_outputs(model, codes_in)
    assert got.shape == want.shape == (32, 12)
    assert np.array_equal(got, want), f"{int((got != want).sum())} of {want.size} output bytes differ from TFLM"
    assert len({tuple(r) for r in want}) > 8  # the vectors exercise the model (not one constant output)
    # classify() returns {label: score}: the dequantized codes, exactly as the C computes them
    scores = np.fromfile(tmp_path / "scores.f32", np.float32).reshape(got.shape)
    assert np.array_equal(scores, score_of(want, out["scale"], out["zero_point"]))


def test_kws_output_folder(kws_wasm: dict[str, Any], tmp_path: Path) -> None:
    d = Path(kws_wasm["out_dir"])
    assert sorted(p.name for p in d.iterdir()) == kws_wasm["files"] == sorted(
        ["MANIFEST.json", "README.md", "demo.css", "demo.js", "index.html", "kws_ref_model.mjs",
         "kws_ref_model.wasm"])
    assert (d / "kws_ref_model.wasm").read_bytes()[:4] == b"\0asm"
    summary = json.loads((d / "MANIFEST.json").read_text())
    assert summary["format"] == "wasm" and summary["model"]["window_rows"] == 490
    assert summary["model"]["labels"] == [f"class{i}" for i in range(12)]
    assert "python3 -m http.server" in (d / "README.md").read_text()
    page = (d / "index.html").read_text()
    # strict CSP: every script is a file of the folder, no inline script/style/handlers, nothing from a CDN
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="demo.js">']
    assert "</script>" in page and not re.search(r"<script[^>]*>[^<]+</script>", page)
    assert not re.search(r"\son\w+=|\sstyle=|<style", page)
    assert not re.search(r"https?://", page + (d / "demo.js").read_text())
    assert "script-src 'self' 'wasm-unsafe-eval'" in page and 'data-model="kws_ref_model"' in page
    # the module loads from its default URL (the .wasm next to it) and from bytes alike
    info = json.loads(node(d / "kws_ref_model.mjs", "info"))
    assert info["sameInfo"] and info["labels"] == summary["model"]["labels"]
    assert {k: info["info"][k] for k in ("frequency", "axes", "windowRows", "sliceRows", "rawLength")} == {
        "frequency": 0, "axes": 1, "windowRows": 490, "sliceRows": 122, "rawLength": 490}


def _stream_windows(rows: np.ndarray, window: int, slice_rows: int) -> tuple[np.ndarray, np.ndarray]:
    ends = np.arange(window, len(rows) + 1, slice_rows)
    return ends, np.stack([rows[e - window:e] for e in ends])


def test_kws_stream_equals_python_twin(kws_lib: Path, tmp_path: Path) -> None:
    """A shipped (non-default) post-processing setting and a threshold changed at run time; rows pushed in
    chunks of odd sizes; every window's codes are TFLM's and detections/averages equal the Python twin's."""
    vec, _, model, manifest = load_vectors(kws_lib)
    inp, out = manifest["inputs"][0], manifest["outputs"][0]
    labels = [f"class{i}" for i in range(12)]
    thresholds = [0.55] * 12
    thresholds[3] = 2.0
    cfg = PostprocessConfig(4, tuple(thresholds), 2, tuple(labels))
    built = build_wasm(kws_lib, tmp_path / "web", postprocess=cfg, slices_per_window=5)
    assert built["model"]["slice_rows"] == 98 and built["model"]["average_windows"] == 4
    codes = np.random.default_rng(11).integers(-128, 128, 490 * 50 + 37, dtype=np.int8)
    rows = dequantize(codes, inp["scale"], inp["zero_point"])
    rows.tofile(tmp_path / "rows.f32")
    node(tmp_path / "web" / "kws_ref_model.mjs", "stream", tmp_path / "rows.f32", "1,97,490,3000,13",
         tmp_path / "out.json", "class9=0.7")
    res = json.loads((tmp_path / "out.json").read_text())
    got = res["results"]
    assert res["thresholds"]["class9"] == pytest.approx(0.7) and res["thresholds"]["class3"] == 2.0
    ends, windows = _stream_windows(codes, 490, 98)
    assert [r["endRow"] for r in got] == ends.tolist() and all(r["t"] is None for r in got)
    want = tflm_outputs(model, windows)
    got_codes = np.array([r["codes"] for r in got], np.int8)
    assert np.array_equal(got_codes, want), f"{int((got_codes != want).sum())} output bytes differ from TFLM"
    twin_cfg = PostprocessConfig(4, tuple(0.7 if i == 9 else t for i, t in enumerate(thresholds)), 2)
    pp = Postprocessor(twin_cfg, out["scale"], out["zero_point"])
    det, avg = [], []
    for row in want:
        det.append(pp.step(row))
        avg.append(pp.averages())
    assert [r["detection"] for r in got] == det
    assert np.array_equal(np.array([r["average"] for r in got], np.float32), np.array(avg, np.float32))
    fired = [d for d in det if d >= 0]
    assert 0 < len(fired) < len(det) // 2 and len(set(fired)) >= 2, det  # the setting is exercised
    assert 3 not in fired  # threshold 2.0: never


# --- a model with its DSP in C: the runtime tests' BasicMotions classifier (eim_helpers.motion) ---


def test_motion_dsp_in_wasm(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    """Raw accelerometer/gyroscope windows: the DSP runs in the .wasm. Its outputs equal the native build of the
    same C byte for byte, and TFLM run on the numpy features within the DSP twin's float tolerance."""
    from crisp_eml.runtime.engine import Engine

    built = build_wasm(motion.lib, tmp_path / "web")
    assert built["model"]["dsp_in_c"] and built["model"]["axes"] == 6 and built["model"]["frequency_hz"] == 10
    windows, labels = split_windows()
    windows.tofile(tmp_path / "in.f32")
    node(tmp_path / "web" / "motion.mjs", "classify", tmp_path / "in.f32", tmp_path / "codes.bin",
         tmp_path / "scores.f32")
    k = len(motion.labels)
    got = np.fromfile(tmp_path / "codes.bin", np.int8).reshape(len(windows), k)
    with Engine(motion.lib) as engine:
        native = np.stack([engine.classify(w).codes for w in windows])
    assert np.array_equal(got, native), f"{int((got != native).sum())} output bytes differ from the native build"
    want = tflm_codes(motion, windows)
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff != 0).mean() <= 0.01, f"{int((diff != 0).sum())} codes differ from TFLM"
    # real windows exercise the model: every class wins somewhere, many distinct outputs (measured: 80 of 680)
    assert set(got.argmax(axis=1).tolist()) == set(range(k)) and len({tuple(r) for r in got}) >= 40
    scale, zp = motion.output_quant
    scores = np.fromfile(tmp_path / "scores.f32", np.float32).reshape(got.shape)
    assert np.array_equal(scores, score_of(got, scale, zp))


def test_motion_stream_equals_native_and_python_twin(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    """The 40 test recordings back to back (400 s at 10 Hz) as one stream, pushed in uneven chunks (one of them
    more results than the wasm returns per call): the wasm stream's windows, averages and detections equal the
    native stream driver's and the Python twin's."""
    from crisp_eml.runtime.engine import Engine

    build_wasm(motion.lib, tmp_path / "web")
    rows = np.concatenate([r for _, r in split_recordings()]).astype(np.float32)
    rows.tofile(tmp_path / "rows.f32")
    node(tmp_path / "web" / "motion.mjs", "stream", tmp_path / "rows.f32", "7,1,64,333,2", tmp_path / "out.json")
    got = json.loads((tmp_path / "out.json").read_text())["results"]
    with Engine(motion.lib) as engine:
        native = engine.stream(rows)
        cfg = PostprocessConfig.default(motion.labels, engine.shape.slices_per_window)
    assert [r["endRow"] for r in got] == native.end_rows.tolist() == list(range(20, len(rows) + 1, 5))
    assert [r["t"] for r in got] == pytest.approx([e / 10 for e in native.end_rows])
    codes = np.array([r["codes"] for r in got], np.int8)
    assert np.array_equal(codes, native.codes)
    assert [r["detection"] for r in got] == native.detections.tolist()
    assert np.array_equal(np.array([r["average"] for r in got], np.float32), native.averages)
    pp = Postprocessor(cfg, *motion.output_quant)
    assert [pp.step(c) for c in codes] == [r["detection"] for r in got]
    fired = {motion.labels[r["detection"]] for r in got if r["detection"] >= 0}
    assert len(fired) >= 3, fired  # the real activities are detected along the stream


def test_motion_refuses_bad_input(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    build_wasm(motion.lib, tmp_path / "web")
    got = json.loads(node(tmp_path / "web" / "motion.mjs", "errors"))
    assert got == {"short": "RangeError: the window must have 120 values, got 119",
                   "partialRow": "RangeError: rows must be whole rows of 6 values, got 7",
                   "unknownLabel": "RangeError: no label no-such-label",
                   "negativeThreshold": "RangeError: a threshold is a number >= 0 (> 1: never detected), got -1",
                   "ok": None}


def test_emcc_cache_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """emcc refusing its (read-only, frozen) system cache -> one retry with a writable per-user EM_CACHE."""
    fake = tmp_path / "bin" / "emcc"
    fake.parent.mkdir()
    log = tmp_path / "calls.txt"
    fake.write_text(f"""#!{sys.executable}
import os, sys
open({str(log)!r}, "a").write(repr((os.environ.get("EM_CACHE"), os.environ.get("EM_FROZEN_CACHE"))) + "\\n")
if not os.environ.get("EM_CACHE"):
    sys.exit("emcc: error: FROZEN_CACHE is set, but cache file is missing: libc.a")
open(sys.argv[sys.argv.index("-o") + 1], "wb").write(b"\\0asm")
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("EM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    wasm_build.compile_wasm([tmp_path / "a.c"], tmp_path, tmp_path / "a.wasm")
    assert (tmp_path / "a.wasm").read_bytes() == b"\0asm"
    calls = log.read_text().splitlines()
    assert calls == ["(None, None)", repr((str(tmp_path / "cache" / "crisp-eml" / "emscripten"), ""))]
    # a user-chosen EM_CACHE is respected: no retry, the error is reported
    log.unlink()
    monkeypatch.setenv("EM_CACHE", "")
    with pytest.raises(VerificationError, match="FROZEN_CACHE"):
        wasm_build.compile_wasm([tmp_path / "a.c"], tmp_path, tmp_path / "b.wasm")
    assert len(log.read_text().splitlines()) == 1


def test_missing_emcc_names_the_debian_package(monkeypatch: pytest.MonkeyPatch, kws_lib: Path,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="apt-get install emscripten"):
        build_wasm(kws_lib, tmp_path / "web")
    assert not (tmp_path / "web").exists()


def test_demo_page_in_chromium(motion: Motion, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    """The demo page under its own strict CSP in Debian's chromium, served on 127.0.0.1 as the README says: the
    model loads, the accelerometer is offered, and an uploaded BasicMotions CSV (timestamp + 6 columns) is
    streamed with the detections the native stream driver finds on the same rows."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import expect

    from crisp_eml.runtime.engine import Engine

    build_wasm(motion.lib, tmp_path / "web")
    label, rows = split_recordings()[10]
    csv = sorted((BASIC_MOTIONS / "testing").glob("*.csv"))[10]
    assert csv.name.startswith(label)
    with Engine(motion.lib) as engine:
        native = engine.stream(rows)
    want = [motion.labels[d] for d in native.detections if d >= 0]
    assert want  # the recording's activity is detected

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path / "web")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        expect(page.locator("#status")).to_have_text("ready", timeout=30000)  # (no eval: the page's CSP forbids it)
        assert f"{len(motion.labels)} labels" in page.text_content("#info")
        assert "20 rows × 6 axes at 10 Hz" in page.text_content("#info")
        assert page.is_visible("#sensor-start") and page.text_content("#sensor-start") == "Start the accelerometer"
        page.set_input_files("#file", str(csv))
        expect(page.locator("#status")).to_contain_text("window(s)", timeout=30000)
        assert page.text_content("#status") == (f"{csv.name}: 100 rows, {len(native.end_rows)} window(s), "
                                                f"{len(want)} detection(s)")
        items = page.eval_on_selector_all("#detections li", "els => els.map(e => e.textContent)")
        assert [i.split(" at ")[0] for i in reversed(items)] == want
        top = page.text_content("#scores tr.top th")
        assert top == motion.labels[int(native.codes[-1].argmax())]
    finally:
        page.close()
        server.shutdown()
    assert not problems, problems  # no CSP violation, no script error
