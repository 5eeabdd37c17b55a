"""A library whose model has an impulse: ``<name>_run`` computes the DSP features in C, quantizes, invokes.

The DSP step is float32 C (``compiler.dsp_c``), so its features match numpy to ~1e-4, not bit for bit; the
int8 network after it is bit-exact. The model is a small classifier trained on BasicMotions (its windows are
in distribution); the test runs the 200 real test-split windows plus 12 synthetic ones through the C library
and compares with TFLite Micro run on the numpy features. A feature within ~3e-4 of a quantization boundary
(scale 0.22) could round the other way, so at most one code may differ in at most 1 % of the output bytes;
measured: 0 of 848 output bytes, and 0 of 21,600 quantized features over both splits (max feature
difference 3.1e-4).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from golden_checks import assert_exercised

from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.render import RenderOptions, render_library
from crisp_eml.compiler.verify import tflm_outputs

SPEC = {"input": {"type": "time-series", "window_size_ms": 2000, "frequency_hz": 10, "axes": ["ax", "ay", "az"]},
        "blocks": [{"type": "spectral-analysis", "params": {"filter-type": "low", "filter-cutoff": 3.0,
                                                            "filter-order": 4, "fft-length": 16}},
                   {"type": "flatten"}]}

HARNESS = r"""
#include <stdio.h>
#include "imu.h"
int main(int argc, char **argv)
{
    static float raw[IMU_RAW_INPUT_LEN];
    imu_result_t res;
    FILE *fi = fopen(argv[1], "rb");
    FILE *fo = fopen(argv[2], "wb");
    if (argc < 3 || fi == NULL || fo == NULL || imu_init() != IMU_OK) {
        return 2;
    }
    /* a wrong raw length is an input size error, not a DSP failure */
    if (imu_run(raw, 3, &res) != IMU_ERR_INPUT_SIZE
        || imu_run(raw, IMU_RAW_INPUT_LEN + 1, &res) != IMU_ERR_INPUT_SIZE) {
        return 3;
    }
    while (fread(raw, sizeof(float), IMU_RAW_INPUT_LEN, fi) == IMU_RAW_INPUT_LEN) {
        if (imu_run(raw, IMU_RAW_INPUT_LEN, &res) != IMU_OK || res.label == NULL) {
            return 4;
        }
        fwrite(res.raw, 1, IMU_OUTPUT_SIZE, fo);
    }
    fclose(fi);
    fclose(fo);
    return 0;
}
"""


LABELS = ["badminton", "running", "standing", "walking"]


def basic_motions(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Real 2 s accelerometer windows ``[n, 20, 3]`` (five per 10 s recording) and their class indices."""
    from conftest import BASIC_MOTIONS

    windows, labels = [], []
    for f in sorted((BASIC_MOTIONS / split).glob("*.csv")):
        acc = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float32)[:, 1:4]  # accX, accY, accZ
        for i in range(0, len(acc) - 19, 20):
            windows.append(acc[i:i + 20])
            labels.append(LABELS.index(f.name.split(".")[0]))
    return np.stack(windows), np.array(labels)


@pytest.fixture(scope="session")
def imu_model(request: pytest.FixtureRequest) -> bytes:
    """A small dense classifier trained on BasicMotions' training split (97 % on its test windows), quantised
    with the real training features as representative set, so that real windows are in its distribution."""
    from tiny_models import convert_int8

    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import apply_impulse

    path = Path(request.config.cache.mkdir("eml-compiler-c-dsp-v2")) / "imu.tflite"
    if not path.exists():
        from tensorflow import keras
        from tensorflow.keras import layers

        windows, y = basic_motions("training")
        feats = apply_impulse(ImpulseSpec.from_dict(SPEC), windows).reshape(len(windows), -1)
        n = feats.shape[1]
        keras.utils.set_random_seed(2)
        norm = layers.Normalization()
        norm.adapt(feats)
        hidden, head = layers.Dense(8, activation="relu"), layers.Dense(4, activation="softmax")
        x = keras.Input((n,))
        train = keras.Model(x, head(hidden(norm(x))))
        train.compile("adam", "sparse_categorical_crossentropy")
        train.fit(feats, y, epochs=40, batch_size=32, verbose=0)
        x1 = keras.Input((n,), batch_size=1)
        path.write_bytes(convert_int8(keras.Model(x1, head(hidden(norm(x1)))), [(1, n)], representative=feats))
    return path.read_bytes()


def test_run_with_dsp_in_c(imu_model: bytes, tmp_path: Path) -> None:
    from c_helpers import build_with_harness, plan_for

    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import apply_impulse

    g = read_tflite(imu_model)
    files = render_library(g, plan_for(g), RenderOptions(name="imu", labels=LABELS, dsp=SPEC))
    assert "src/imu_dsp.c" in files and '"dsp_in_c": true' in files["MANIFEST.json"]
    # the header documents the length _run checks (raw samples, not the model's feature count)
    assert "len must be IMU_RAW_INPUT_LEN (raw samples)" in files["src/imu.h"]
    assert "len must be IMU_INPUT_SIZE" not in files["src/imu.h"]
    import json

    manifest = json.loads(files["MANIFEST.json"])
    import re

    dsp_static = re.search(r"IMU_DSP_STATIC_BYTES (\d+)", files["src/imu_dsp.h"])
    assert dsp_static is not None
    assert manifest["ram_bytes"] >= (manifest["arena_bytes"] + int(dsp_static.group(1))
                                     + 4 * g.tensor(g.inputs[0]).shape[-1])
    exe = build_with_harness(files, HARNESS, tmp_path)
    rng = np.random.default_rng(4)
    t = np.arange(20) / 10.0
    synthetic = (np.sin(2 * np.pi * rng.uniform(0.2, 4, (12, 1, 3)) * t[None, :, None])
                 + rng.uniform(-2, 2, (12, 1, 3)) + 0.2 * rng.standard_normal((12, 20, 3))).astype(np.float32)
    real, labels = basic_motions("testing")
    windows = np.concatenate([real, synthetic])
    k = len(windows)
    windows.tofile(tmp_path / "in.bin")
    ran = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True)
    assert ran.returncode == 0, ran.returncode
    got = np.fromfile(tmp_path / "out.bin", np.int8).reshape(k, -1)
    feats = apply_impulse(ImpulseSpec.from_dict(SPEC), windows).reshape(k, -1)
    x = g.tensor(g.inputs[0])
    scale, zp = np.float32(x.scale[0]), int(x.zero_point[0])
    q = np.clip(np.floor(np.abs(feats.astype(np.float32) / scale) + 0.5) * np.sign(feats) + zp, -128, 127)
    want = tflm_outputs(imu_model, q.astype(np.int8))
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff != 0).mean() <= 0.01, f"{int((diff != 0).sum())} codes differ, max {diff.max()}"
    n_real = len(real)
    assert (want[:n_real].argmax(axis=1) == labels).mean() >= 0.9  # real windows are in the model's distribution
    # measured: 36 % of codes at a rail, 133 distinct rows of 200 (bounds leave room for training variance)
    assert_exercised(want[:n_real], max_saturated=0.7, min_classes=4, min_distinct=0.3)


def test_dsp_spec_without_c_twin_falls_back_to_features(imu_model: bytes) -> None:
    from c_helpers import plan_for

    g = read_tflite(imu_model)
    spec = {**SPEC, "blocks": [{"type": "no-such-block"}]}
    files = render_library(g, plan_for(g), RenderOptions(name="imu", dsp=spec))
    assert "src/imu_dsp.c" not in files and '"dsp_in_c": false' in files["MANIFEST.json"]
    assert "no-such-block" in files["MANIFEST.json"]  # the reason is recorded
