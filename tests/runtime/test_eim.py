"""The ``.eim`` runner driven by Edge Impulse's own Python client (``edge_impulse_linux.runner.ImpulseRunner``).

A real classifier (BasicMotions, see eim_helpers.motion) is built into a static ``.eim``; the client starts it,
reads hello and classifies all 680 testing windows of the project. The scores must be the library's (the same
C through ctypes: identical floats), every score must be a dequantized int8 code, and the codes must be
TFLite Micro's on the Python DSP features (the DSP is float32 C vs numpy, so as in the golden DSP test a code
may differ by one in at most 1 % of the outputs; measured: none). Node-style framing (a newline after each
request, several requests in one write) gives the same replies; classify_continuous follows the stream and
post-processing semantics (checked against the pure-Python twin), and set_threshold changes them.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eim_helpers import (  # noqa: F401  (motion is a fixture)
    SLICE_ROWS,
    WINDOW_ROWS,
    Motion,
    RawClient,
    codes_of,
    dequantize,
    motion,
    scores_matrix,
    serving,
    split_recordings,
    split_windows,
    tflm_codes,
)

Runner = tuple[Any, dict[str, Any]]  # the official client, started, and its hello reply


@pytest.fixture()
def runner(motion: Motion) -> Iterator[Runner]:  # noqa: F811
    from edge_impulse_linux.runner import ImpulseRunner

    r = ImpulseRunner(str(motion.eim), allow_shm=False)
    info = r.init()
    yield r, info
    proc = r._runner
    r.stop()  # SIGINT, as the client does
    assert proc is not None and proc.wait(timeout=30) == 0


def test_hello_reports_the_model(motion: Motion, runner: Runner) -> None:  # noqa: F811
    _, info = runner
    mp = info["model_parameters"]
    assert mp["labels"] == motion.labels == ["badminton", "running", "standing", "walking"]
    assert (mp["axis_count"], mp["input_features_count"], mp["label_count"]) == (6, 120, 4)
    assert mp["frequency"] == 10 and mp["interval_ms"] == 100 and mp["slice_size"] == SLICE_ROWS
    assert mp["model_type"] == "classification" and mp["has_anomaly"] == 0
    assert mp["sensor"] == 2 and mp["sensor_type"] == "accelerometer"  # Edge Impulse's integer code, and our name
    for key in ("use_continuous_mode", "image_input_width", "image_input_height", "image_channel_count",
                "image_input_frames"):
        assert key in mp, key
    assert mp["thresholds"] == [{"id": k, "type": "classification", "label": lb, "min_score": 0.6}
                                for k, lb in enumerate(motion.labels)]
    assert info["project"]["name"] == "motion" and "features_shm" not in info
    # --print-info prints the same body
    import subprocess

    printed = json.loads(subprocess.run([str(motion.eim), "--print-info"], capture_output=True, check=True).stdout)
    assert printed == info
    assert motion.eim.stat().st_mode & stat.S_IXUSR


def test_classify_every_testing_window_matches_library_and_tflm(motion: Motion, runner: Runner) -> None:  # noqa: F811
    from crisp_eml.runtime.engine import Engine

    r, _ = runner
    windows, labels = split_windows()
    assert len(windows) == 680
    replies = [r.classify(w.ravel().tolist()) for w in windows]
    for rep in replies:
        assert set(rep) == {"result", "timing"} and set(rep["result"]) == {"classification"}
        assert set(rep["timing"]) >= {"dsp", "classification", "anomaly", "json", "stdin"}
    got = scores_matrix(replies, motion.labels)
    scale, zp = motion.output_quant
    codes = codes_of(got, scale, zp)
    np.testing.assert_array_equal(got, dequantize(codes, scale, zp))  # every score is a dequantized int8 code
    with Engine(motion.lib) as eng:  # the same library through ctypes (what `eml run` uses)
        lib_scores = np.stack([eng.classify(w).scores for w in windows])
    np.testing.assert_array_equal(got, lib_scores)  # identical floats
    want = tflm_codes(motion, windows)
    diff = np.abs(codes.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff != 0).mean() <= 0.01, f"{int((diff != 0).sum())} codes differ"
    accuracy = np.mean([motion.labels[i] == lb for i, lb in zip(got.argmax(axis=1), labels, strict=True)])
    assert accuracy >= 0.9, accuracy  # real windows, a trained model: not a degenerate output


def test_node_style_framing_and_pipelined_requests(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    windows, _ = split_windows()
    picked = windows[::85]  # 8 windows of different recordings
    with serving(motion.eim, tmp_path / "s.sock"):
        c = RawClient(tmp_path / "s.sock")
        hello = c.call({"hello": 1, "id": 1}, newline=True)
        assert hello["success"] and hello["id"] == 1 and "sensor" in hello["model_parameters"]
        one_by_one = [c.call({"classify": w.ravel().tolist(), "id": 10 + i}) for i, w in enumerate(picked)]
        # Node's framing: each request followed by "\n", all of them in one write, and one split mid-request
        blob = b"".join(json.dumps({"id": 100 + i, "classify": w.ravel().tolist()}).encode() + b"\n"
                        for i, w in enumerate(picked))
        c.send(blob[:777])
        c.send(blob[777:] + b"\r\n  \n")
        piped = [c.reply() for _ in picked]
        assert [p["id"] for p in piped] == [100 + i for i in range(len(picked))]
        assert [p["result"] for p in piped] == [o["result"] for o in one_by_one]
        assert all(p["success"] for p in piped)
        c.close()
        # the next client is served too, and string ids are echoed
        c2 = RawClient(tmp_path / "s.sock")
        rep = c2.call({"id": "abc", "classify": picked[0].ravel().tolist()})
        assert rep["id"] == "abc" and rep["result"] == one_by_one[0]["result"]
        c2.close()


def test_classify_continuous_follows_stream_and_postprocessing(motion: Motion, runner: Runner) -> None:  # noqa: F811
    from crisp_eml.core.postprocess import PostprocessConfig, Postprocessor

    r, _ = runner
    scale, zp = motion.output_quant
    cfg = PostprocessConfig.default(motion.labels, WINDOW_ROWS // SLICE_ROWS)
    # two recordings back to back: a change of activity inside the stream
    recs = split_recordings()
    rows = np.concatenate([recs[0][1], recs[-1][1]])  # badminton then walking, 200 rows
    pp = Postprocessor(cfg, scale, zp)
    detections = []
    for i in range(len(rows) // SLICE_ROWS):
        rep = r.send_msg({"classify_continuous": rows[i * SLICE_ROWS:(i + 1) * SLICE_ROWS].ravel().tolist()})
        res = rep["result"]
        seen = (i + 1) * SLICE_ROWS
        if seen < WINDOW_ROWS:  # before the first full window: zero averages, no detection
            assert res == {"classification": dict.fromkeys(motion.labels, 0), "detection": None,
                           "window_complete": False}
            continue
        window = rows[seen - WINDOW_ROWS:seen]
        one = r.classify(window.ravel().tolist())["result"]["classification"]
        det = pp.step(codes_of(np.array([one[lb] for lb in motion.labels], np.float32), scale, zp))
        assert res["window_complete"] is True
        np.testing.assert_array_equal(np.array([res["classification"][lb] for lb in motion.labels], np.float32),
                                      np.array(pp.averages(), np.float32))  # float32 round trip, exact
        assert res["detection"] == (motion.labels[det] if det >= 0 else None), i
        detections.append(res["detection"])
    assert "badminton" in detections and "walking" in detections  # the post-processing fired on both
    assert detections.index("walking") > detections.index("badminton")
    with pytest.raises(Exception, match="one slice: 30 features"):
        r.send_msg({"classify_continuous": rows[:WINDOW_ROWS].ravel().tolist()})


def test_set_threshold_changes_detection_and_hello(motion: Motion, runner: Runner) -> None:  # noqa: F811
    r, _ = runner
    walking = split_recordings()[-1][1]
    assert r.set_threshold({"id": 3, "min_score": 2.0}) == {}
    th = r.hello()["model_parameters"]["thresholds"]
    assert th[3] == {"id": 3, "type": "classification", "label": "walking", "min_score": 2}
    dets = [r.send_msg({"classify_continuous": walking[i:i + SLICE_ROWS].ravel().tolist()})["result"]["detection"]
            for i in range(0, 100, SLICE_ROWS)]
    assert set(dets) == {None}  # walking never fires any more
    assert r.set_threshold({"id": 3, "min_score": 0.25}) == {}
    dets = [r.send_msg({"classify_continuous": walking[i:i + SLICE_ROWS].ravel().tolist()})["result"]["detection"]
            for i in range(0, 100, SLICE_ROWS)]
    assert "walking" in dets
    for bad, why in (({"id": 4, "min_score": 0.5}, "no threshold with id 4"),
                     ({"id": 0, "min_score": -1}, "min_score"), ({"id": 0}, "min_score")):
        with pytest.raises(Exception, match=why):
            r.set_threshold(bad)


def _qemu() -> str:
    import shutil

    path = shutil.which("qemu-aarch64")
    if path is None:
        pytest.fail("qemu-aarch64 is not installed (Debian: apt-get install qemu-user)")
    return path


def test_aarch64_eim_under_qemu_is_byte_identical(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    """Cross-built with gcc-aarch64-linux-gnu, run under qemu-aarch64 (user mode, no binfmt needed: a wrapper
    script execs qemu), driven by the official client and by a raw client: replies byte-identical to x86-64."""
    from edge_impulse_linux.runner import ImpulseRunner

    from crisp_eml.runtime.build import build_program

    real = build_program(motion.lib, "eim", tmp_path / "motion-aarch64.eim", arch="aarch64")
    head = real.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[18:20] == b"\xb7\x00"  # e_machine EM_AARCH64
    wrapper = tmp_path / "model.eim"
    wrapper.write_text(f'#!/bin/sh\nexec "{_qemu()}" "{real}" "$@"\n')
    wrapper.chmod(0o755)
    windows, _ = split_windows()
    r = ImpulseRunner(str(wrapper), allow_shm=False)
    info = r.init()
    try:
        assert info["model_parameters"]["labels"] == motion.labels
        first = r.classify(windows[0].ravel().tolist())["result"]
    finally:
        proc = r._runner
        r.stop()
        assert proc is not None and proc.wait(timeout=60) == 0

    def replies(cmd: Path | list[str], sock: Path) -> list[bytes]:
        with serving(cmd, sock):
            c = RawClient(sock)
            out = []
            for i, msg in enumerate([{"hello": 1}, *({"classify": w.ravel().tolist()} for w in windows)]):
                c.send(json.dumps({**msg, "id": i}).encode())
                out.append(c.reply_bytes().split(b',"timing":')[0])  # timings differ, the rest may not
            c.close()
        return out

    x86 = replies(motion.eim, tmp_path / "x86.sock")
    arm = replies([_qemu(), str(real)], tmp_path / "arm.sock")
    assert len(arm) == 681 and arm == x86
    assert json.loads(x86[1] + b"}")["result"] == first


def test_anomaly_scorer_eim(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    """An anomaly-only library: hello says so (no labels; its threshold as an anomaly block's), classify returns
    the library's score
    (identical float), continuous mode and thresholds are refused with an error reply."""
    from crisp_eml.runtime.build import build_program
    from crisp_eml.runtime.engine import Engine

    eim = build_program(motion.adlib, "eim", tmp_path / "ad.eim")
    windows, labels = split_windows()
    picked = windows[::20]
    with serving(eim, tmp_path / "s.sock"), Engine(motion.adlib) as eng:
        c = RawClient(tmp_path / "s.sock")
        mp = c.call({"hello": 1, "id": 1})["model_parameters"]
        assert mp["has_anomaly"] == 1 and mp["label_count"] == 0 and mp["labels"] == []
        threshold = json.loads((motion.adlib / "MANIFEST.json").read_text())["threshold"]
        assert mp["thresholds"] == [{"id": 0, "type": "anomaly_kmeans",
                                     "min_anomaly_score": float(np.float32(threshold))}]
        scores = []
        for i, w in enumerate(picked):
            rep = c.call({"id": i, "classify": w.ravel().tolist()})
            assert rep["result"]["classification"] == {}
            assert np.float32(rep["result"]["anomaly"]) == np.float32(eng.classify(w).anomaly)
            scores.append(rep["result"]["anomaly"])
        assert len(set(scores)) > len(picked) // 2  # real, varied scores
        normal = [s for s, lb in zip(scores, labels[::20], strict=True) if lb in ("standing", "walking")]
        other = [s for s, lb in zip(scores, labels[::20], strict=True) if lb not in ("standing", "walking")]
        assert np.median(other) > np.median(normal)
        rep = c.call({"id": 90, "classify_continuous": picked[0][:SLICE_ROWS].ravel().tolist()})
        assert rep["success"] is False and "needs a classifier" in rep["error"]
        rep = c.call({"id": 91, "set_threshold": {"id": 0, "min_score": 0.5}})
        assert rep["success"] is False and "this model has no thresholds" in rep["error"]
        c.close()
