"""Feature standardisation end to end: trainer -> .tflite metadata -> C library ``<name>_run`` -> same codes.

The trainer standardises features with training-set statistics and stores them in both ``.tflite`` files; the
compiler reads them from the model and ``<name>_run`` applies ``(x - mean) / std`` in float32 before quantizing.
The C library run on real BasicMotions windows (DSP in C) must give the int8 outputs TFLite Micro gives for the
Python path (numpy DSP, :class:`Normalization`, quantize): the DSP step is float32 C (features match numpy to
~1e-4), so at most one code may differ in at most 1 % of the output bytes, as for the library without
standardisation.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_c_library_dsp import HARNESS, LABELS, SPEC, basic_motions

from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.verify import tflm_outputs
from crisp_eml.core.features import FeatureSet
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.dsp.pipeline import apply_impulse
from crisp_eml.learn.model_metadata import model_normalization


def _feature_set() -> FeatureSet:
    spec = ImpulseSpec.from_dict(SPEC)
    parts = []
    for split in ("training", "testing"):
        w, y = basic_motions(split)
        parts.append((apply_impulse(spec, w).reshape(len(w), -1), y, split))
    X = np.concatenate([p[0] for p in parts]).astype(np.float32)
    labels = np.array([LABELS[i] for p in parts for i in p[1]], dtype=object)
    cats = np.array([p[2] for p in parts for _ in p[1]], dtype=object)
    ids = np.array([f"{c}-{i // 5}" for i, c in enumerate(cats)], dtype=object)  # five windows per recording
    return FeatureSet(X=X, labels=labels, sample_ids=ids, categories=cats, feature_shape=(X.shape[1],),
                      impulse_hash=spec.hash)


@pytest.fixture(scope="module")
def trained() -> tuple[bytes, dict[str, object]]:
    from crisp_eml.learn.blocks import parse_block
    from crisp_eml.learn.trainer import fit_block

    block = parse_block({"type": "nn-classifier", "params": {"epochs": 30, "layers": [
        {"type": "dense", "units": 12, "activation": "relu"}]}})
    out = fit_block(_feature_set(), block, seed=3, measure_arena=False)
    return out.artifacts["model_int8.tflite"], out.metrics


def test_trainer_stores_statistics_in_both_models(trained: tuple[bytes, dict[str, object]]) -> None:
    model, metrics = trained
    norm = model_normalization(model)
    X = _feature_set().category("training").X
    assert norm is not None and norm.channels == X.shape[1]  # a flat vector: one channel per feature
    np.testing.assert_allclose(norm.mean, X.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.std, X.std(axis=0), rtol=1e-4)
    test = metrics["test"]
    assert isinstance(test, dict)
    assert test["int8"]["accuracy"] >= 0.85
    assert abs(test["float32"]["accuracy"] - test["int8"]["accuracy"]) <= 0.05


def test_run_standardises_like_python(trained: tuple[bytes, dict[str, object]], tmp_path: Path) -> None:
    from c_helpers import build_with_harness, plan_for

    model, _ = trained
    norm = model_normalization(model)
    assert norm is not None
    g = read_tflite(model)
    files = render_library(g, plan_for(g), RenderOptions(name="imu", labels=LABELS, dsp=SPEC,
                                                         normalization=norm.to_dict()))
    assert json.loads(files["MANIFEST.json"])["normalization"]["mean"] == [float(v) for v in norm.mean]
    assert "IMU_NORMALIZED 1" in files["src/imu.h"]
    exe = build_with_harness(files, HARNESS, tmp_path)
    windows, labels = basic_motions("testing")
    windows.tofile(tmp_path / "in.bin")
    ran = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True)
    assert ran.returncode == 0, ran.returncode
    got = np.fromfile(tmp_path / "out.bin", np.int8).reshape(len(windows), -1)
    feats = norm.apply(apply_impulse(ImpulseSpec.from_dict(SPEC), windows).reshape(len(windows), -1))
    x = g.tensor(g.inputs[0])
    scale, zp = np.float32(x.scale[0]), int(x.zero_point[0])
    q = np.clip(np.floor(np.abs(feats / scale) + 0.5) * np.sign(feats) + zp, -128, 127).astype(np.int8)
    want = tflm_outputs(model, q)
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff != 0).mean() <= 0.01, f"{int((diff != 0).sum())} codes differ"
    assert (want.argmax(axis=1) == labels).mean() >= 0.85
    # without the standardisation the same model gives other outputs: the C step is not a no-op
    raw = apply_impulse(ImpulseSpec.from_dict(SPEC), windows).reshape(len(windows), -1)
    q_raw = np.clip(np.floor(np.abs(raw / scale) + 0.5) * np.sign(raw) + zp, -128, 127).astype(np.int8)
    assert (tflm_outputs(model, q_raw) != got).mean() > 0.2


QUANT_HARNESS = r"""
#include <stdio.h>
#include "imu.h"
int main(int argc, char **argv)
{
    float x;
    FILE *fi = fopen(argv[1], "rb");
    FILE *fo = fopen(argv[2], "wb");
    if (argc < 3 || fi == NULL || fo == NULL) {
        return 2;
    }
    while (fread(&x, sizeof(float), 1, fi) == 1) {
        const int8_t q = imu_quantize_input(x);
        fwrite(&q, 1, 1, fo);
    }
    fclose(fi);
    fclose(fo);
    return 0;
}
"""


def test_python_quantize_is_the_c_librarys(trained: tuple[bytes, dict[str, object]], tmp_path: Path) -> None:
    """``learn.tflm.quantize`` (the Python path of every accuracy figure) gives the C library's codes, ties,
    rails and NaN included."""
    from c_helpers import build_with_harness, plan_for

    from crisp_eml.learn.tflm import io_details, quantize

    model, _ = trained
    g = read_tflite(model)
    exe = build_with_harness(render_library(g, plan_for(g), RenderOptions(name="imu", labels=LABELS)),
                             QUANT_HARNESS, tmp_path)
    info, _ = io_details(model)
    scale = np.float32(info.scale)
    ties = (np.arange(-300, 300, dtype=np.float32) + np.float32(0.5)) * scale  # x / scale lands on k + 0.5
    rng = np.random.default_rng(5)
    x = np.concatenate([ties, rng.normal(0, 60 * scale, 5000).astype(np.float32),
                        np.float32([0.0, -0.0, 1e30, -1e30, np.inf, -np.inf, np.nan])]).astype(np.float32)
    x.tofile(tmp_path / "in.bin")
    ran = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True)
    assert ran.returncode == 0
    got = np.fromfile(tmp_path / "out.bin", np.int8)
    want = quantize(x, info)
    assert np.array_equal(got, want), np.flatnonzero(got != want)[:10]
