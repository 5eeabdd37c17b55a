"""A FOMO-style detection model end to end: ``eml compile`` then ``eml verify`` on the host and on QEMU.

The model (``fomo_model``): MobileNet-like backbone cut at 1/8 resolution, 1x1 conv head, per-cell softmax
over the last axis of a (1, 12, 12, 3) map. Byte-exact vs TFLite Micro on the host (-O3 and ASan/UBSan) and
the emulated Cortex-M4; the numpy reference interpreter is checked against TFLM too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fomo_model import CLASSES, GRID, INPUT_SHAPE, fomo_tflite
from op_checks import op_types

from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.verify import random_vectors, tflm_outputs


def _compile(run_cli: Any, tmp: Path) -> Path:
    model = tmp / "fomo.tflite"
    model.write_bytes(fomo_tflite())
    out = tmp / "fomo_lib"
    code, stdout, stderr = run_cli(["compile", str(model), "-o", str(out), "--name", "fomo", "--vectors", "4",
                                    "--json"])
    assert code == 0, stderr
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["outputs"][0]["shape"] == [1, GRID, GRID, CLASSES]
    assert "SOFTMAX" in manifest["ops"] and "DEPTHWISE_CONV_2D" in manifest["ops"]
    return out


def _verify(run_cli: Any, lib: Path, *extra: str) -> dict[str, Any]:
    code, stdout, stderr = run_cli(["verify", str(lib), "--host", *extra, "--json"])
    assert code == 0, stdout + stderr
    report: dict[str, Any] = json.loads(stdout)
    return report


def test_fomo_shape_and_ops() -> None:
    types = op_types(fomo_tflite())
    assert set(types) == {"CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"}, types
    g = read_tflite(fomo_tflite())
    assert g.tensor(g.inputs[0]).shape == (1, *INPUT_SHAPE)


def test_fomo_reference_matches_tflm() -> None:
    data = fomo_tflite()
    g = read_tflite(data)
    vec = random_vectors(int(np.prod(INPUT_SHAPE)), 3, seed=2)
    want = tflm_outputs(data, vec)
    got = np.stack([run_reference(g, [v.reshape(1, *INPUT_SHAPE)])[0].reshape(-1) for v in vec])
    assert np.array_equal(got, want)
    # a per-cell softmax: every cell's probabilities (scale 1/256, zero point -128) sum to about 1
    cells = (want.reshape(3, GRID * GRID, CLASSES).astype(np.int32) + 128).sum(axis=2)
    assert np.abs(cells - 256).max() <= CLASSES


def test_fomo_compiles_and_verifies_on_host(run_cli: Any, tmp_path: Path) -> None:
    lib = _compile(run_cli, tmp_path)
    report = _verify(run_cli, lib)
    assert report["ok"] is True, report


@pytest.mark.cross
def test_fomo_verifies_on_cortex_m4(run_cli: Any, tmp_path: Path) -> None:
    lib = _compile(run_cli, tmp_path)
    report = _verify(run_cli, lib, "--no-sanitize", "--target", "cortex-m4")
    assert report["ok"] is True, report
