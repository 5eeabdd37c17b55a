"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (int8): generated C vs numpy reference vs TFLite Micro.

Property tests: each op under each coordinate mode TFLite has (plain, align_corners, half_pixel_centers) on a
seeded random input shape and output size (up- and down-sampling, odd ratios), one tiny converted model per
case (converted once per process).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from op_checks import check_m4, check_model, op_types
from tiny_models import convert_int8

from crisp_eml.compiler.opdefs.resize import bilinear_table, nearest_index

MODES = {"plain": (False, False), "align": (True, False), "half": (False, True)}
CASES = [(op, mode) for op in ("nearest", "bilinear") for mode in MODES]


def _shapes(op: str, mode: str) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    rng = np.random.default_rng(CASES.index((op, mode)) + 100)
    hh, ww = (int(v) for v in rng.integers(2, 8, 2))
    c = int(rng.integers(1, 5))
    oh, ow = int(rng.integers(1, 3 * hh)), int(rng.integers(1, 3 * ww))
    return (1, hh, ww, c), (oh, ow)


@functools.cache
def resize_model(op: str, mode: str) -> bytes:
    import tensorflow as tf

    shape, size = _shapes(op, mode)
    align, half = MODES[mode]
    fn_v1: Any = tf.compat.v1.image.resize_bilinear if op == "bilinear" else \
        tf.compat.v1.image.resize_nearest_neighbor

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def fn(x: Any) -> Any:
        return fn_v1(x, size, align_corners=align, half_pixel_centers=half)

    return convert_int8(fn, [shape], seed=CASES.index((op, mode)))


@pytest.mark.parametrize(("op", "mode"), CASES)
def test_resize_bit_exact(op: str, mode: str, tmp_path: Path) -> None:
    model = resize_model(op, mode)
    assert op_types(model) == ["RESIZE_BILINEAR" if op == "bilinear" else "RESIZE_NEAREST_NEIGHBOR"]
    want = check_model(model, tmp_path, f"rs_{op}_{mode}", seed=len(mode))
    assert len({bytes(r) for r in want}) > 1


def test_index_tables_track_the_float_positions() -> None:
    """Bilinear: lower + d / 1024 is the float source coordinate TFLM's float kernel uses, up to the rounding
    of the 1/1024 scale (half a step per output step, plus half for scale / 2); indices stay inside the input.
    Nearest: indices inside the input."""
    rng = np.random.default_rng(5)
    for _ in range(40):
        n_in, n_out = int(rng.integers(1, 30)), int(rng.integers(1, 60))
        for align, half in MODES.values():
            t = np.asarray(bilinear_table(n_out, n_in, align, half)).reshape(-1, 3)
            assert (t[:, 0] >= 0).all() and (t[:, 1] <= n_in - 1).all() and (t[:, 0] <= t[:, 1]).all()
            v = np.arange(n_out)
            scale = (n_in - 1) / (n_out - 1) if align and n_out > 1 else n_in / n_out
            pos = (v + 0.5) * scale - 0.5 if half else v * scale
            err = np.abs(t[:, 0] + t[:, 2] / 1024 - pos)
            assert (err <= (v + 2) * 0.5 / 1024 + 1e-9).all(), (n_in, n_out, align, half)
            ix = np.asarray(nearest_index(n_out, n_in, align, half))
            assert (ix >= 0).all() and (ix <= n_in - 1).all()


@pytest.mark.cross
def test_resize_on_cortex_m4(tmp_path: Path) -> None:
    for op in ("nearest", "bilinear"):
        check_m4(resize_model(op, "half"), tmp_path / op, f"rs_{op}")
