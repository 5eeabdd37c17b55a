"""A library whose model has an impulse: ``<name>_run`` computes the DSP features in C, quantizes, invokes.

The DSP step is float32 C (``compiler.dsp_c``), so its features match numpy to ~1e-4, not bit for bit; the
int8 network after it is bit-exact. The test compares the C outputs for raw windows with TFLite Micro run on
the numpy features: equal except, rarely, one code where a feature sits on a quantization boundary.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.compiler.build import WARNINGS, tool, write_tree
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
    if (imu_run(raw, 3, &res) != IMU_ERR_DSP) {
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


@pytest.fixture(scope="session")
def imu_model(request: pytest.FixtureRequest) -> bytes:
    from tiny_models import convert_int8

    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import n_features

    n = n_features(ImpulseSpec.from_dict(SPEC))
    path = Path(request.config.cache.mkdir("eml-compiler-c-dsp-v1")) / "imu.tflite"
    if not path.exists():
        from tensorflow import keras
        from tensorflow.keras import layers

        keras.utils.set_random_seed(2)
        x = keras.Input((n,), batch_size=1)
        y = layers.Dense(4, activation="softmax")(layers.Dense(8, activation="relu")(x))
        path.write_bytes(convert_int8(keras.Model(x, y), [(1, n)]))
    return path.read_bytes()


def test_run_with_dsp_in_c(imu_model: bytes, tmp_path: Path) -> None:
    from c_helpers import plan_for

    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import apply_impulse

    g = read_tflite(imu_model)
    files = render_library(g, plan_for(g), RenderOptions(name="imu", labels=["a", "b", "c", "d"], dsp=SPEC))
    assert "src/imu_dsp.c" in files and '"dsp_in_c": true' in files["MANIFEST.json"]
    import json

    manifest = json.loads(files["MANIFEST.json"])
    import re

    dsp_static = re.search(r"IMU_DSP_STATIC_BYTES (\d+)", files["src/imu_dsp.h"])
    assert dsp_static is not None
    assert manifest["ram_bytes"] >= (manifest["arena_bytes"] + int(dsp_static.group(1))
                                     + 4 * g.tensor(g.inputs[0]).shape[-1])
    write_tree(files, tmp_path / "lib")
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "run"
    srcs = [str(p) for p in sorted((tmp_path / "lib" / "src").glob("*.c"))]
    r = subprocess.run([tool("gcc"), *WARNINGS, "-O2", f"-I{tmp_path / 'lib' / 'src'}", *srcs,
                        str(tmp_path / "main.c"), "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(4)
    t = np.arange(20) / 10.0
    windows = (np.sin(2 * np.pi * rng.uniform(0.2, 4, (12, 1, 3)) * t[None, :, None])
               + rng.uniform(-2, 2, (12, 1, 3)) + 0.2 * rng.standard_normal((12, 20, 3))).astype(np.float32)
    windows.tofile(tmp_path / "in.bin")
    r = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True)
    assert r.returncode == 0, r.returncode
    got = np.fromfile(tmp_path / "out.bin", np.int8).reshape(12, -1)
    feats = apply_impulse(ImpulseSpec.from_dict(SPEC), windows).reshape(12, -1)
    x = g.tensor(g.inputs[0])
    scale, zp = np.float32(x.scale[0]), int(x.zero_point[0])
    q = np.clip(np.floor(np.abs(feats.astype(np.float32) / scale) + 0.5) * np.sign(feats) + zp, -128, 127)
    want = tflm_outputs(imu_model, q.astype(np.int8))
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 2 and (diff == 0).mean() > 0.9


def test_dsp_spec_without_c_twin_falls_back_to_features(imu_model: bytes) -> None:
    from c_helpers import plan_for

    g = read_tflite(imu_model)
    spec = {**SPEC, "blocks": [{"type": "no-such-block"}]}
    files = render_library(g, plan_for(g), RenderOptions(name="imu", dsp=spec))
    assert "src/imu_dsp.c" not in files and '"dsp_in_c": false' in files["MANIFEST.json"]
    assert "no-such-block" in files["MANIFEST.json"]  # the reason is recorded
