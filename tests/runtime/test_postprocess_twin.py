"""The C post-processing (``eml_postprocess.c``, in every classifier library) and its Python twin
(``crisp_eml.core.postprocess``) give identical results, and the C stream driver runs the model bit-exactly.

1. A small gcc harness feeds ``eml_pp_*`` random int8 code streams from a file under many random settings:
   N = 1 and 64, suppression 0, thresholds 0, > 1 and exactly on an integer code sum (power-of-two scales, so
   ``need`` is an integer and sums land on it), zero points -128 / 0 / 127, ties between labels, a threshold
   changed mid-stream; detections equal and averages equal as float32 bits. Settings the C refuses, Python
   refuses.
2. The ctypes engine over long real streams (the MLPerf Tiny KWS model taking features, and the same network
   behind an MFCC step in C on raw 16 kHz audio): its detections and averages equal
   ``core.postprocess`` applied to its own codes, and its codes equal TensorFlow Lite Micro on a sample of
   windows (features quantized as the library does) / the library's one-window call.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kws_libraries import KWS, KWS_LABELS, MFCC_SPEC, features_library, mfcc_library

from crisp_eml.core.errors import InputError
from crisp_eml.core.postprocess import PostprocessConfig, Postprocessor, need_sums

HARNESS = r"""
#include <stdio.h>
#include "eml_postprocess.h"
/* per case: int32 n, N, S, zp, steps, switch_step, switch_label; float scale, switch_thr; float thr[n];
 * int8 codes[steps][n]. Writes int32 init status, then per step int32 set-threshold status, int32 detection,
 * float averages[n]. */
int main(int argc, char **argv)
{
    static float thr[EML_PP_MAX_LABELS + 8];
    static int8_t codes[EML_PP_MAX_LABELS + 8];
    static eml_pp_t pp;
    int32_t h[7], st, det, set, s, k;
    float f[2], avg;
    eml_pp_config_t cfg;
    FILE *fi, *fo;
    if (argc < 3 || (fi = fopen(argv[1], "rb")) == NULL || (fo = fopen(argv[2], "wb")) == NULL) {
        return 2;
    }
    while (fread(h, 4, 7, fi) == 7) {
        if (fread(f, 4, 2, fi) != 2 || h[0] > EML_PP_MAX_LABELS + 8
            || fread(thr, 4, (size_t)h[0], fi) != (size_t)h[0]) {
            return 3;
        }
        cfg.n_labels = h[0];
        cfg.average_windows = h[1];
        cfg.suppression_steps = h[2];
        cfg.zero_point = h[3];
        cfg.scale = f[0];
        cfg.thresholds = thr;
        st = eml_pp_init(&pp, &cfg);
        fwrite(&st, 4, 1, fo);
        for (s = 0; s < h[4]; ++s) {
            if (fread(codes, 1, (size_t)h[0], fi) != (size_t)h[0]) {
                return 4;
            }
            set = s == h[5] ? eml_pp_set_threshold(&pp, h[6], f[1]) : 0;
            det = eml_pp_step(&pp, codes);
            fwrite(&set, 4, 1, fo);
            fwrite(&det, 4, 1, fo);
            for (k = 0; k < h[0]; ++k) {
                avg = eml_pp_average(&pp, k);
                fwrite(&avg, 4, 1, fo);
            }
        }
    }
    fclose(fi);
    fclose(fo);
    return 0;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pp-harness")
    c = resources.files("crisp_eml.compiler").joinpath("c")
    for name in ("eml_postprocess.c", "eml_postprocess.h"):
        (d / name).write_text(c.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    (d / "main.c").write_text(HARNESS, encoding="utf-8")
    exe = d / "pp"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(d), str(d / "main.c"),
                    str(d / "eml_postprocess.c"), "-o", str(exe)], check=True, capture_output=True)
    return exe


def _case(rng: np.random.Generator, i: int) -> dict[str, Any]:
    """A random setting and code stream; every few cases hit a corner on purpose."""
    n = int(rng.choice([1, 2, 3, 5, 12, 64])) if i % 7 else int(rng.integers(1, 65))
    big_n = [1, 64, 2, 3, int(rng.integers(1, 65))][i % 5]
    supp = [0, 1, 4, int(rng.integers(0, 30))][i % 4]
    zp = [-128, 0, 127, int(rng.integers(-128, 128))][(i // 2) % 4]
    pow2 = i % 3 != 2
    scale = float(2.0 ** -int(rng.integers(4, 10))) if pow2 else float(np.float32(rng.uniform(1e-3, 0.05)))
    centre = rng.integers(-128, 128, n)
    thr = []
    for k in range(n):
        kind = rng.integers(0, 6)
        if kind == 0:
            thr.append(0.0)
        elif kind == 1:
            thr.append(2.0)
        elif kind == 2:
            thr.append(float(rng.uniform(0, 1)))
        else:  # on a code: need = N * code exactly (power-of-two scale), sums reach it exactly
            thr.append(float(np.float32(max(0, int(centre[k]) - zp) * scale)))
    steps = int(rng.integers(200, 1500))
    mode = i % 3
    if mode == 0:  # anything
        codes = rng.integers(-128, 128, (steps, n))
    else:  # near each label's centre code, bursts, and duplicated columns for ties
        codes = centre + rng.integers(-1, 2, (steps, n))
        burst = rng.random(steps) < 0.05
        codes[burst] = rng.integers(-128, 128, (int(burst.sum()), n))
        if n > 1 and mode == 2:
            codes[:, 1] = codes[:, 0]
            thr[1] = thr[0]
    codes = np.clip(codes, -128, 127).astype(np.int8)
    switch = int(rng.integers(0, steps)) if i % 2 else -1
    return {"n": n, "N": big_n, "S": supp, "zp": zp, "scale": scale, "thr": thr, "codes": codes,
            "switch": switch, "switch_label": int(rng.integers(0, n)),
            "switch_thr": float(np.float32(rng.choice([0.0, 0.3, 2.0, (max(0, int(centre[0]) - zp)) * scale])))}


def _pack(c: dict[str, Any], codes: bool = True) -> bytes:
    steps = len(c["codes"]) if codes else 0
    out = struct.pack("<7i2f", c["n"], c["N"], c["S"], c["zp"], steps, c["switch"], c["switch_label"], c["scale"],
                      c["switch_thr"])
    with np.errstate(over="ignore"):  # 1e39 -> float32 inf, as a C caller would pass it
        out += np.asarray(c["thr"], "<f4").tobytes()
    return out + (np.ascontiguousarray(c["codes"]).tobytes() if codes else b"")


def _python(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    cfg = PostprocessConfig(c["N"], tuple(c["thr"]), c["S"])
    pp = Postprocessor(cfg, c["scale"], c["zp"])
    dets, avgs = [], []
    for s, row in enumerate(c["codes"]):
        if s == c["switch"]:  # eml_pp_set_threshold: only that label's integer threshold changes
            thr = list(cfg.thresholds)
            thr[c["switch_label"]] = c["switch_thr"]
            pp.need[c["switch_label"]] = need_sums(replace(cfg, thresholds=tuple(thr)), c["scale"], c["zp"])[
                c["switch_label"]]
        dets.append(pp.step(row))
        avgs.append(pp.averages())
    return np.array(dets, np.int32), np.array(avgs, np.float32)


def test_c_equals_python_on_random_settings(harness: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(20240613)
    cases = [_case(rng, i) for i in range(240)]
    (tmp_path / "in.bin").write_bytes(b"".join(_pack(c) for c in cases))
    subprocess.run([str(harness), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    out = (tmp_path / "out.bin").read_bytes()
    pos, fired, on_boundary = 0, 0, 0
    for i, c in enumerate(cases):
        assert struct.unpack_from("<i", out, pos)[0] == 0, i
        pos += 4
        steps, n = c["codes"].shape
        rec = np.frombuffer(out, dtype=np.dtype([("set", "<i4"), ("det", "<i4"), ("avg", "<f4", (n,))]),
                            count=steps, offset=pos)
        pos += rec.nbytes
        assert (rec["set"] == 0).all()
        dets, avgs = _python(c)
        bad = np.flatnonzero(rec["det"] != dets)
        assert bad.size == 0, f"case {i} ({ {k: v for k, v in c.items() if k != 'codes'} }): first step {bad[:1]}"
        assert np.array_equal(rec["avg"].reshape(steps, n).view(np.uint32), avgs.view(np.uint32)), f"case {i}"
        fired += int((dets >= 0).sum())
        need = need_sums(PostprocessConfig(c["N"], tuple(c["thr"]), c["S"]), c["scale"], c["zp"])
        sums = np.cumsum(c["codes"].astype(np.int64), axis=0)  # exact window sums, to count boundary hits
        win = sums - np.vstack([np.zeros((c["N"], c["codes"].shape[1]), np.int64), sums[:-c["N"]]])[:steps]
        start = max(-128, min(127, c["zp"]))
        win[:c["N"]] += start * (c["N"] - np.arange(1, min(c["N"], steps) + 1))[:, None]
        on_boundary += int((win == np.asarray(need)[None, :]).sum())
    assert pos == len(out)
    assert fired > 1000 and on_boundary > 500, (fired, on_boundary)  # the streams exercise detections and `>=`


@pytest.mark.parametrize(("field", "value"), [("N", 0), ("N", 65), ("S", -1), ("thr", float("nan")),
                                              ("thr", -0.25), ("thr", float("inf")), ("thr", 1e39)])
def test_both_refuse_the_same_bad_settings(harness: Path, tmp_path: Path, field: str, value: float) -> None:
    c: dict[str, Any] = {"n": 3, "N": 3, "S": 2, "zp": -128, "scale": 1 / 256, "thr": [0.5, 0.6, 0.7], "switch": -1,
         "switch_label": 0, "switch_thr": 0.0, "codes": np.zeros((0, 3), np.int8)}
    if field == "thr":
        c["thr"] = [0.5, value, 0.7]
    else:
        c[field] = int(value)
    (tmp_path / "in.bin").write_bytes(_pack(c, codes=False))
    subprocess.run([str(harness), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    assert struct.unpack("<i", (tmp_path / "out.bin").read_bytes())[0] == -1
    with pytest.raises(InputError):
        PostprocessConfig(c["N"], tuple(c["thr"]), c["S"])


# --- the engine over long real streams ------------------------------------------------------------------------


def _settings(labels: tuple[str, ...], slices: int) -> list[PostprocessConfig]:
    rng = np.random.default_rng(5)
    n = len(labels)
    return [PostprocessConfig.default(labels, slices),
            PostprocessConfig(1, tuple([0.3] * n), 0, labels),
            PostprocessConfig(64, tuple(float(x) for x in rng.uniform(0.05, 0.9, n)), 3, labels),
            PostprocessConfig(5, tuple(float(x) for x in rng.choice([0.0, 0.25, 0.5, 2.0], n)), 7, labels)]


def _check_stream(engine: Any, rows: np.ndarray, labels: tuple[str, ...], slices: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every setting: the engine's detections/averages == core.postprocess on the engine's codes."""
    from crisp_eml.core.postprocess import detections

    shape = engine.shape
    codes: np.ndarray | None = None
    fired = 0
    for cfg in _settings(labels, slices):
        r = engine.stream(rows, cfg, chunk_rows=77_777)  # chunks that cut windows and slices anywhere
        w, sl = shape.window_rows, shape.slice_rows
        assert np.array_equal(r.end_rows, np.arange(w, rows.shape[0] + 1, sl, dtype=np.uint64))
        if codes is None:
            codes = r.codes
        assert np.array_equal(r.codes, codes)
        assert np.array_equal(r.detections, detections(codes, cfg, shape.output_scale, shape.output_zero_point))
        pp = Postprocessor(cfg, shape.output_scale, shape.output_zero_point)
        avgs = np.empty_like(r.averages)
        for i, row in enumerate(codes):
            pp.step(row)
            avgs[i] = pp.averages()
        assert np.array_equal(r.averages.view(np.uint32), avgs.view(np.uint32))
        fired += int((r.detections >= 0).sum())
    assert codes is not None and fired > 50 and len(set(codes.argmax(1).tolist())) >= 2, fired  # not one class
    return r.end_rows, codes


def test_engine_stream_on_kws_features_equals_python_and_tflm(tmp_path: Path) -> None:
    from crisp_eml.compiler.verify import tflm_outputs
    from crisp_eml.learn.tflm import TensorInfo, quantize
    from crisp_eml.runtime.engine import Engine

    lib = features_library(tmp_path / "kws")
    rng = np.random.default_rng(11)
    slices = 49  # one 10-cepstra frame per step, as a frame-wise feature stream would be slid
    frames = 49 + 3500
    walk = np.cumsum(rng.normal(0, 6, (frames, 10)), axis=0)  # slowly varying "cepstra"
    walk = walk - np.convolve(walk[:, 0], np.ones(200) / 200, "same")[:, None]
    rows = np.clip(walk, -120, 100).astype(np.float32).reshape(-1, 1)
    with Engine(lib, slices_per_window=slices) as eng:
        ends, codes = _check_stream(eng, rows, KWS_LABELS, slices)
        pick = np.sort(rng.choice(len(ends), 96, replace=False))
        m = eng.shape
        q = json.loads((lib / "MANIFEST.json").read_text())["inputs"][0]
        info = TensorInfo(tuple(q["shape"]), q["dtype"], float(q["scale"]), int(q["zero_point"]))
        windows = np.stack([rows[int(e) - m.window_rows:int(e), 0] for e in ends[pick]])
        expected = tflm_outputs(KWS.read_bytes(), quantize(windows, info))
        assert np.array_equal(codes[pick], expected)


def test_engine_stream_with_mfcc_in_c_equals_python(tmp_path: Path) -> None:
    from crisp_eml.runtime.engine import Engine

    lib = mfcc_library(tmp_path / "kws_mfcc")
    fs = int(MFCC_SPEC["input"]["frequency_hz"])  # type: ignore[index]
    rng = np.random.default_rng(3)
    seconds = 240
    t = np.arange(seconds * fs) / fs
    tone = np.sin(2 * np.pi * (300 + 200 * np.sin(2 * np.pi * t / 7.0)) * t)
    env = (np.sin(2 * np.pi * t / 3.3) > 0.3).astype(np.float64)
    audio = 0.3 * tone * env + 0.01 * rng.standard_normal(t.size)
    rows = (np.round(audio * 32768) / 32768).astype(np.float32).reshape(-1, 1)
    with Engine(lib, slices_per_window=4) as eng:
        ends, codes = _check_stream(eng, rows, KWS_LABELS, 4)
        for i in rng.choice(len(ends), 24, replace=False):
            e = int(ends[i])
            assert np.array_equal(eng.classify(rows[e - fs:e, 0]).codes, codes[i])
    assert math.isclose(len(ends), (seconds - 1) * 4 + 1)
