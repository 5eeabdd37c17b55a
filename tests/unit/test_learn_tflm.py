"""TFLite Micro helpers: smallest arena of the MLPerf Tiny reference models, predictions, corrupt files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import MLPERF_TINY
from crisp_eml.core.errors import InputError
from crisp_eml.learn.tflm import TensorInfo, dequantize, io_details, quantize, tflm_min_arena, tflm_predict, tflm_runs


@pytest.mark.slow
@pytest.mark.parametrize(("name", "arena"), [("kws_ref_model.tflite", 24_272), ("ad01_int8.tflite", 4_632)])
def test_min_arena_matches_mlperf_readme(name: str, arena: int) -> None:
    data = (MLPERF_TINY / name).read_bytes()
    found = tflm_min_arena(data)
    assert found == arena
    assert tflm_runs(data, found) and not tflm_runs(data, found - 1)


def test_predict_runs_the_model_row_by_row() -> None:
    data = (MLPERF_TINY / "ad01_int8.tflite").read_bytes()
    inp, out = io_details(data)
    assert inp.shape == (1, 640) and inp.dtype == "int8" and out.shape == (1, 640)
    rng = np.random.default_rng(0)
    X = rng.integers(-128, 128, size=(3, 640)).astype(np.int8)
    y = tflm_predict(data, X)
    assert y.shape == (3, 640) and y.dtype == np.int8
    assert np.array_equal(tflm_predict(data, X[1:2]), y[1:2])  # no state carried between rows
    assert not np.array_equal(y[0], y[1])
    with pytest.raises(InputError, match="values per window"):
        tflm_predict(data, np.zeros((2, 10), np.int8))
    with pytest.raises(InputError, match="int8"):
        tflm_predict(data, np.zeros((2, 640), np.float32))


def test_quantize_roundtrip() -> None:
    info = TensorInfo((1, 4), "int8", 0.5, -3)
    x = np.array([[-70.0, -1.0, 0.0, 70.0]])
    q = quantize(x, info)
    assert q.dtype == np.int8 and q.tolist() == [[-128, -5, -3, 127]]
    assert dequantize(q, info).tolist() == [[-62.5, -1.0, 0.0, 65.0]]


@pytest.mark.parametrize("data", [b"", b"not a model at all", b"\x1c\x00\x00\x00TFL3" + b"\xff" * 64])
def test_corrupt_tflite_is_input_error(data: bytes) -> None:
    with pytest.raises(InputError):
        tflm_min_arena(data)
