"""The reader's refusals (``compiler.model_checks``): each names the file and the reason, in the right order.

Bad models are real MLPerf Tiny KWS files patched field by field (``tflite_patch``): float activations, int16
activations, an absurd per-channel weight scale (1.18e38: it compiled before and the reference then disagreed
with TFLite Micro), an out-of-range zero point. Random byte flips and truncations of the same file must
always end in an ``InputError``, never another exception.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import tflite_patch as tp
from crisp_eml.compiler import model_checks
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph, Op, Tensor

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"


@pytest.fixture(scope="module")
def kws() -> bytes:
    if not KWS.is_file():
        pytest.fail(f"test data missing: {KWS}")
    return KWS.read_bytes()


def test_float_model_is_told_what_really_exists(kws: bytes) -> None:
    with pytest.raises(InputError) as ex:
        read_tflite(tp.activations_as(kws, 0), source="f.tflite")
    msg = str(ex.value)
    assert msg.startswith("f.tflite: float model: operator 0 (CONV_2D) computes in float32")
    assert "learn quantize" not in msg
    assert "eml train" in msg and "TFLITE_BUILTINS_INT8" in msg and "representative_dataset" in msg


def test_int16_check_names_only_the_ops_lacking_int16() -> None:
    """On a constructed graph: an op type nobody registers at int16 is named; the message is the 16x8 one."""
    q = dict(scale=np.array([0.5], np.float32), zero_point=np.array([0]))
    g = Graph([Tensor(0, "x", (1, 4), "int16", **q), Tensor(1, "y", (1, 4), "int16", **q)],
              [Op(0, "EML_NO_SUCH_OP", [0], [1])], [0], [1])
    with pytest.raises(InputError, match=r"m\.tflite: int16x8 model .* no int16 kernel for EML_NO_SUCH_OP "
                                         r"\(operators 0 \(EML_NO_SUCH_OP\)\)"):
        model_checks.check_ops(g, "m.tflite")


def test_absurd_per_channel_scale_is_refused(kws: bytes) -> None:
    ti = tp.per_channel_tensor(kws)
    with pytest.raises(InputError) as ex:
        read_tflite(tp.set_scale(kws, ti, 3, 1.18e38), source="big.tflite")
    msg = str(ex.value)
    assert msg.startswith("big.tflite: field 'quantization.scale': tensor ")
    assert f"tensor {ti} (" in msg and "scale[3] = 1.18e+38" in msg


@pytest.mark.parametrize("value", [0.0, -0.25, float("nan"), float("inf"), -1e-38])
def test_non_positive_or_non_finite_scales_are_refused(kws: bytes, value: float) -> None:
    ti = tp.per_channel_tensor(kws)
    with pytest.raises(InputError, match=r"field 'quantization.scale'"):
        read_tflite(tp.set_scale(kws, ti, 0, value))


def test_zero_point_outside_the_type_is_refused(kws: bytes) -> None:
    g = read_tflite(kws)
    ti = g.inputs[0]
    with pytest.raises(InputError, match=rf"field 'quantization.zero_point': tensor {ti} .* zero_point\[0\] = 300 "
                                         r"is outside the int8 range \[-128, 127\]"):
        read_tflite(tp.set_zero_point(kws, ti, 0, 300))


def test_per_channel_length_must_match_the_channel_dimension() -> None:
    t = Tensor(0, "w", (4, 3), "int8", np.full(3, 0.1, np.float32), np.zeros(3, np.int64), 0,
               np.zeros((4, 3), np.int8))
    g = Graph([t], [], [], [])
    with pytest.raises(InputError, match="field 'quantization.quantized_dimension': tensor 0 \\('w'\\): 3 per-channel"):
        model_checks.check_quantization(g, "m.tflite")
    t.quantized_dimension = 1
    model_checks.check_quantization(g, "m.tflite")  # 3 scales for 3 channels of dimension 1: fine


def test_corrupted_models_always_fail_cleanly(kws: bytes) -> None:
    """Seeded random byte flips (1-8 bytes) and truncations: an InputError or a model that still compiles."""
    from crisp_eml.compiler.model_render import render_model

    rng = np.random.default_rng(15)
    refused = 0
    for trial in range(160):
        buf = bytearray(kws)
        if trial % 4 == 3:
            buf = buf[:int(rng.integers(0, len(buf)))]
        else:
            for at in rng.integers(0, len(buf), int(rng.integers(1, 9))):
                buf[int(at)] = int(rng.integers(0, 256))
        try:
            render_model(bytes(buf), name="c", labels=[], model_sha256="", dsp=None, source="c.tflite")
        except InputError as exc:
            assert str(exc).startswith("c.tflite: "), str(exc)
            refused += 1
    assert refused >= 40  # truncations alone are 40 of the 160
