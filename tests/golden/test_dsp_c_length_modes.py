"""Whole-recording impulses in C: ``length_mode`` ``pad`` and ``resample`` give Python's window bit for bit.

``<name>_dsp`` takes a recording of any number of whole rows and first pads or resamples it to the window
(:func:`crisp_eml.core.impulse.resample_rows` arithmetic, float32). With the ``raw`` block the features *are*
that window, so C and numpy must agree exactly; with ``flatten`` the usual twin tolerance applies. Built once
with ASan/UBSan, and a bad length (zero rows, a partial row) is refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from dsp_c_helpers import SANITIZE, WARN, assert_twin_close, spec_of, tool

from crisp_eml.core.impulse import windows_for
from crisp_eml.dsp.pipeline import apply_impulse, n_features

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "twin_dsp.h"
int main(int argc, char **argv)
{
    static float raw[4096 * TWIN_DSP_N_AXES], feat[TWIN_DSP_N_FEATURES];
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    unsigned int rows;
    int rc = 0;
    (void)argc;
    if (!in || !out) { return 10; }
    while (fread(&rows, sizeof rows, 1, in) == 1) {
        if (rows > 4096u || fread(raw, sizeof(float), rows * TWIN_DSP_N_AXES, in) != rows * TWIN_DSP_N_AXES) {
            return 11;
        }
        rc |= twin_dsp(raw, rows * TWIN_DSP_N_AXES, feat);
        fwrite(feat, sizeof(float), TWIN_DSP_N_FEATURES, out);
    }
    rc |= (twin_dsp(raw, 0, feat) == TWIN_DSP_ERR_LENGTH) ? 0 : 64;
    rc |= (twin_dsp(raw, TWIN_DSP_N_AXES + 1, feat) == TWIN_DSP_ERR_LENGTH || TWIN_DSP_N_AXES == 1) ? 0 : 128;
    fclose(in); fclose(out);
    return rc;
}
"""


def _build(spec: object, tmp_path: Path, sanitize: bool) -> Path:
    from crisp_eml.compiler.dsp_c import render_dsp_c

    files = render_dsp_c(spec, prefix="twin")  # type: ignore[arg-type]
    assert "#define TWIN_DSP_VARIABLE_LENGTH 1" in files["twin_dsp.h"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "twin"
    r = subprocess.run([tool("gcc"), *WARN, "-O1" if sanitize else "-O2", *(SANITIZE if sanitize else []),
                        "-o", str(exe), str(tmp_path / "main.c"), str(tmp_path / "twin_dsp.c"), "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def _run(exe: Path, recordings: list[np.ndarray], k: int) -> np.ndarray:
    d = exe.parent
    with open(d / "in.bin", "wb") as fh:
        for rec in recordings:
            fh.write(np.uint32(rec.shape[0]).tobytes())
            fh.write(np.ascontiguousarray(rec, dtype=np.float32).tobytes())
    r = subprocess.run([str(exe), str(d / "in.bin"), str(d / "out.bin")], capture_output=True, text=True)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return np.fromfile(d / "out.bin", dtype=np.float32).reshape(len(recordings), k)


def _recordings(axes: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    lengths = [1, 2, 3, 7, 31, 32, 33, 97, 360, 1000]
    return [(rng.normal(0, 3, (n, axes)) + rng.uniform(-50, 50)).astype(np.float32) for n in lengths]


@pytest.mark.parametrize("mode", ["pad", "resample"])
@pytest.mark.parametrize("sanitize", [False, True])
def test_raw_block_is_bit_exact(mode: str, sanitize: bool, tmp_path: Path) -> None:
    spec = spec_of({"window_size_ms": 320, "frequency_hz": 100, "axes": ["x", "y"], "length_mode": mode},
                   [{"type": "raw"}])
    recs = _recordings(2)
    got = _run(_build(spec, tmp_path, sanitize), recs, n_features(spec))
    want = np.concatenate([apply_impulse(spec, windows_for(spec, r)).reshape(1, -1) for r in recs])
    assert np.array_equal(got, want), np.argwhere(got != want)[:5]


def test_flatten_on_resampled_recordings(tmp_path: Path) -> None:
    spec = spec_of({"window_size_ms": 640, "frequency_hz": 100, "axes": ["z"], "length_mode": "resample"},
                   [{"type": "flatten"}])
    recs = _recordings(1)
    got = _run(_build(spec, tmp_path, False), recs, n_features(spec))
    want = np.concatenate([apply_impulse(spec, windows_for(spec, r)).reshape(1, -1) for r in recs])
    assert_twin_close(got, want)


LIB_HARNESS = r"""
#include <stdio.h>
#include "vl.h"
int main(int argc, char **argv)
{
    static float raw[4096];
    vl_result_t res;
    unsigned int rows;
    FILE *fi = fopen(argv[1], "rb");
    FILE *fo = fopen(argv[2], "wb");
    if (argc < 3 || fi == NULL || fo == NULL || vl_init() != VL_OK) {
        return 2;
    }
    if (vl_run(raw, 0, &res) != VL_ERR_INPUT_SIZE) {  /* no rows at all is still an input size error */
        return 3;
    }
    while (fread(&rows, sizeof rows, 1, fi) == 1) {
        if (rows > 4096u || fread(raw, sizeof(float), rows, fi) != rows || vl_run(raw, rows, &res) != VL_OK) {
            return 4;
        }
        fwrite(res.raw, 1, VL_OUTPUT_SIZE, fo);
    }
    fclose(fi);
    fclose(fo);
    return 0;
}
"""


def test_library_run_takes_whole_recordings(tmp_path: Path) -> None:
    """``<name>_run`` of a library with a ``resample`` impulse accepts any number of rows and gives TFLite
    Micro's outputs for the Python path (resample, raw block, quantize): bit for bit, the chain is exact."""
    from c_helpers import build_with_harness, plan_for
    from tensorflow import keras
    from tiny_models import convert_int8

    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library
    from crisp_eml.compiler.verify import tflm_outputs
    from crisp_eml.learn.tflm import io_details, quantize

    spec = spec_of({"window_size_ms": 320, "frequency_hz": 100, "axes": ["z"], "length_mode": "resample"},
                   [{"type": "raw"}])
    keras.utils.set_random_seed(1)
    x = keras.Input((32,), batch_size=1)
    model = convert_int8(keras.Model(x, keras.layers.Dense(3, activation="softmax")(
        keras.layers.Dense(8, activation="relu")(x))), [(1, 32)])
    g = read_tflite(model)
    files = render_library(g, plan_for(g), RenderOptions(name="vl", labels=["a", "b", "c"], dsp=spec.to_dict()))
    exe = build_with_harness(files, LIB_HARNESS, tmp_path, "vl")
    recs = [r[:, :1] / 25.0 for r in _recordings(1)]
    with open(tmp_path / "in.bin", "wb") as fh:
        for rec in recs:
            fh.write(np.uint32(rec.shape[0]).tobytes() + np.ascontiguousarray(rec, np.float32).tobytes())
    ran = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True)
    assert ran.returncode == 0, ran.returncode
    got = np.fromfile(tmp_path / "out.bin", np.int8).reshape(len(recs), -1)
    info, _ = io_details(model)
    feats = np.concatenate([apply_impulse(spec, windows_for(spec, rec)).reshape(1, -1) for rec in recs])
    want = tflm_outputs(model, quantize(feats, info))
    assert np.array_equal(got, want)
