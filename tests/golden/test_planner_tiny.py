"""The memory planner on the tiny all-ops models: safe by arena simulation, never worse than greedy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tiny_models

from compiler_plan_helpers import assert_no_illegal_overlap, assert_read_min_sound
from crisp_eml.compiler.arena_check import check_plan
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference
from crisp_eml.compiler.render import RenderOptions, render_library


@pytest.mark.parametrize("name", sorted(tiny_models.BUILDERS))
def test_tiny_plan_is_safe_and_small(name: str) -> None:
    g = read_tflite(tiny_models.build_all()[name])
    plan = plan_memory(g)
    assert plan.arena_bytes <= plan.greedy_bytes
    assert plan.arena_bytes <= plan_memory(g, inplace=False).arena_bytes
    assert_no_illegal_overlap(g, plan)
    rng = np.random.default_rng(5)
    for _ in range(3):
        xs = [rng.integers(-128, 128, size=g.tensor(i).shape, dtype=np.int8) if g.tensor(i).dtype == "int8"
              else rng.uniform(-2, 2, size=g.tensor(i).shape).astype(np.float32) for i in g.inputs]
        for a, b in zip(check_plan(g, plan, xs), run_reference(g, xs), strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("name", sorted(tiny_models.BUILDERS))
def test_read_min_is_sound_for_every_op(name: str) -> None:
    assert_read_min_sound(read_tflite(tiny_models.build_all()[name]), seed=2)


def _two_branch_concat() -> bytes:
    """Two dense branches of one input, concatenated on the last axis (a block-contiguous concatenation)."""
    from tensorflow import keras

    keras.utils.set_random_seed(4)
    x = keras.Input((64,))
    a = keras.layers.Dense(200, activation="relu")(x)
    b = keras.layers.Dense(200, activation="relu")(x)
    y = keras.layers.Dense(10)(keras.layers.Concatenate()([a, b]))
    return tiny_models.convert_int8(keras.Model(x, y), [(1, 64)])


def test_concatenation_costs_no_ram_of_its_own(tmp_path: Path) -> None:
    """The concatenation's output is written over both dying branches in its write order, so the arena holds
    the input and that output (64 + 400 B), not both branches and the output (864 B), and as each branch sits
    where the output holds it the C has no copy for it; the replay in one flat arena and the C (host,
    ASan/UBSan) give TFLM's bytes."""
    from op_checks import check_model

    model = _two_branch_concat()
    g = read_tflite(model)
    concat = next(op for op in g.ops if op.type == "CONCATENATION")
    plan = plan_memory(g)
    assert plan.arena_bytes <= 64 + 400 < plan.greedy_bytes
    assert {x for k, x, _, _ in plan.overlaps if k == concat.index} == set(concat.inputs)
    assert_no_illegal_overlap(g, plan)
    # both branches sit exactly where the output holds them: the concatenation moves nothing
    assert [plan.offsets[t] for t in concat.inputs] == [plan.offsets[concat.outputs[0]] + k * 200 for k in (0, 1)]
    src = render_library(g, plan, RenderOptions(name="cat"))["src/cat.c"]
    assert "eml_concat_s8(" not in src and f"/* {concat.index}: CONCATENATION */" in src
    xs = [np.random.default_rng(1).integers(-128, 128, (1, 64), dtype=np.int8)]
    for a, b in zip(check_plan(g, plan, xs), run_reference(g, xs), strict=True):
        assert np.array_equal(a, b)
    check_model(model, tmp_path, "concat_inplace", k=4)
