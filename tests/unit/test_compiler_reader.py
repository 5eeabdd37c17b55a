"""compiler.reader: the MLPerf Tiny models read into the graph IR; malformed input -> InputError only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MLPERF_TINY
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph

KWS = MLPERF_TINY / "kws_ref_model.tflite"
AD = MLPERF_TINY / "ad01_int8.tflite"


def test_reads_kws_ds_cnn() -> None:
    g = read_tflite(KWS)
    assert [op.type for op in g.ops] == (["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4
                                         + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
    x = g.tensor(g.inputs[0])
    assert (x.shape, x.dtype, int(x.zero_point[0])) == ((1, 49, 10, 1), "int8", 83)
    assert g.tensor(g.outputs[0]).shape == (1, 12)
    conv0 = g.ops[0]
    assert conv0.options["padding"] == "SAME" and conv0.options["stride_h"] == 2
    assert conv0.options["fused_activation_function"] == "RELU"
    w = g.tensor(conv0.inputs[1])
    assert w.data is not None and w.data.dtype == np.int8 and w.data.shape == (64, 10, 4, 1)
    assert len(w.scale) == 64 and w.quantized_dimension == 0  # per-channel weights
    bias = g.tensor(conv0.inputs[2])
    assert bias.data is not None and bias.data.dtype == np.int32 and bias.data.shape == (64,)
    assert g.ops[12].options == {"beta": 1.0}
    assert g.name == "kws_ref_model"


def test_reads_anomaly_autoencoder() -> None:
    g = read_tflite(AD.read_bytes(), source="ad.tflite")
    assert [op.type for op in g.ops] == ["FULLY_CONNECTED"] * 10
    assert g.tensor(g.inputs[0]).shape == (1, 640)
    assert g.tensor(g.ops[4].outputs[0]).shape == (1, 8)
    assert all(not g.tensor(op.outputs[0]).is_constant for op in g.ops)


@pytest.mark.parametrize("data,needle", [
    (b"", "TFL3"), (b"\x00" * 64, "TFL3"), (b"hello world, not a model", "TFL3"),
])
def test_garbage_is_an_input_error(data: bytes, needle: str) -> None:
    with pytest.raises(InputError) as exc:
        read_tflite(data, source="junk.tflite")
    assert "junk.tflite" in str(exc.value) and needle in str(exc.value)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read model"):
        read_tflite(tmp_path / "nope.tflite")


def test_truncated_model_is_an_input_error() -> None:
    raw = KWS.read_bytes()
    with pytest.raises(InputError, match="malformed or truncated"):
        read_tflite(raw[: len(raw) // 3], source="kws.tflite")


def _valid_graph(g: Graph) -> None:
    n = len(g.tensors)
    for op in g.ops:
        assert all(-1 <= i < n for i in op.inputs + op.outputs)
    for t in g.tensors:
        if t.data is not None:
            assert t.data.size == int(np.prod(t.shape, dtype=np.int64))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_truncations_and_byte_flips(data: st.DataObject) -> None:
    raw = bytearray(KWS.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(min_value=1, max_value=8), label="flips")):
            pos = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="pos")
            raw[pos] = data.draw(st.integers(min_value=0, max_value=255), label="byte")
    try:
        g = read_tflite(bytes(raw), source="fuzz.tflite")
    except InputError:
        return
    _valid_graph(g)
