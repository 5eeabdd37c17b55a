"""Exported models have a static batch of one, so ``Flatten`` becomes one RESHAPE (no SHAPE/PACK ops)."""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.reader import read_tflite
from crisp_eml.learn.blocks import default_layers
from crisp_eml.learn.layers import build_model
from crisp_eml.learn.quantize import to_float32, to_int8
from crisp_eml.learn.tf_setup import tf_modules


def _ops(data: bytes) -> list[str]:
    tf, _ = tf_modules()
    it = tf.lite.Interpreter(model_content=data)
    return [str(d["op_name"]) for d in it._get_ops_details()]


def test_default_image_cnn_exports_only_supported_ops() -> None:
    model = build_model((16, 16, 3), default_layers("image", (16, 16, 3)), outputs=3, task="classification")
    rep = np.random.default_rng(0).uniform(0, 1, (8, 16, 16, 3)).astype(np.float32)
    int8 = to_int8(model, rep)
    for data in (int8, to_float32(model)):
        ops = _ops(data)
        assert "RESHAPE" in ops and "FULLY_CONNECTED" in ops, ops
        assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(ops), ops
    g = read_tflite(int8)  # the compiler accepts it
    assert tuple(g.tensors[g.inputs[0]].shape) == (1, 16, 16, 3)
