"""TRANSPOSE_CONV and BATCH_MATMUL (int8): generated C vs numpy reference vs TFLite Micro.

Property tests on seeded random configurations, one tiny converted model each (converted once per process):
transpose convolutions with random stride, kernel, padding, channels, with or without bias and ReLU;
batch matmuls of two activations (every adj_x / adj_y combination, broadcast batch) and with a constant
right-hand side.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from op_checks import check_m4, check_model, op_types
from tiny_models import convert_int8

TC_CASES = range(4)
BM_CASES = ["ab", "aTb", "abT", "aTbT", "const", "bcast"]


def _tc_config(i: int) -> dict[str, Any]:
    rng = np.random.default_rng(300 + i)
    return {"stride": int(rng.integers(1, 4)), "k": int(rng.integers(1, 5)), "h": int(rng.integers(2, 6)),
            "w": int(rng.integers(2, 6)), "cin": int(rng.integers(1, 6)), "cout": int(rng.integers(1, 7)),
            "same": bool(i % 2 == 0), "bias": i != 1, "relu": i in (0, 3)}


@functools.cache
def tc_model(i: int) -> bytes:
    import tensorflow as tf

    c = _tc_config(i)
    rng = np.random.default_rng(i)
    w = tf.constant(rng.normal(size=(c["k"], c["k"], c["cout"], c["cin"])).astype(np.float32))
    b = tf.constant(rng.normal(size=(c["cout"],)).astype(np.float32))
    s = c["stride"]
    oh = c["h"] * s if c["same"] else (c["h"] - 1) * s + c["k"]
    ow = c["w"] * s if c["same"] else (c["w"] - 1) * s + c["k"]
    shape = (1, c["h"], c["w"], c["cin"])

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def fn(x: Any) -> Any:
        y = tf.nn.conv2d_transpose(x, w, (1, oh, ow, c["cout"]), s, "SAME" if c["same"] else "VALID")
        y = y + b if c["bias"] else y
        return tf.nn.relu(y) if c["relu"] else y

    return convert_int8(fn, [shape], seed=i)


@functools.cache
def bm_model(case: str) -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(BM_CASES.index(case) + 400)
    m, k, n = (int(v) for v in rng.integers(2, 7, 3))
    ta, tb = "aT" in case, "bT" in case
    if case in ("const", "bcast"):
        shape = (1, 3, m, k) if case == "const" else (1, m, k)
        cshape = (3, k, n) if case == "const" else (2, 1, k, n)  # bcast: the constant brings the batch
        cst = tf.constant(rng.normal(size=cshape).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def fn(x: Any) -> Any:
            return tf.matmul(x, cst)
    else:
        shape = (1, 2, k if ta else m, m if ta else k)

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def fn(x: Any) -> Any:
            y = tf.nn.relu(x) * 0.7 - 0.2  # a second activation of the same shape, other quantization
            # x is (m, k) or, with transpose_a, (k, m); y has x's shape: the rhs (k, n) or, with transpose_b,
            # (n, k) for n = m is y itself when exactly one flag is set, else y transposed
            other = y if ta != tb else tf.transpose(y, (0, 1, 3, 2))
            return tf.matmul(x, other, transpose_a=ta, transpose_b=tb)

    return convert_int8(fn, [shape], seed=BM_CASES.index(case))


@pytest.mark.parametrize("i", TC_CASES)
def test_transpose_conv_bit_exact(i: int, tmp_path: Path) -> None:
    model = tc_model(i)
    assert "TRANSPOSE_CONV" in op_types(model), _tc_config(i)
    want = check_model(model, tmp_path, f"tc{i}", seed=i)
    assert len({bytes(r) for r in want}) > 1


@pytest.mark.parametrize("case", BM_CASES)
def test_batch_matmul_bit_exact(case: str, tmp_path: Path) -> None:
    model = bm_model(case)
    assert "BATCH_MATMUL" in op_types(model), case
    want = check_model(model, tmp_path, f"bm_{case}", seed=len(case))
    assert len({bytes(r) for r in want}) > 1


@pytest.mark.cross
def test_matmul_family_on_cortex_m4(tmp_path: Path) -> None:
    check_m4(tc_model(0), tmp_path / "tc", "tc0")
    check_m4(bm_model("aTb"), tmp_path / "bm", "bm_atb")
