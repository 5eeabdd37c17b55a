"""The memory planner on the tiny all-ops models: safe by arena simulation, never worse than greedy."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_models

from compiler_plan_helpers import assert_no_illegal_overlap, assert_read_min_sound
from crisp_eml.compiler.arena_check import check_plan
from crisp_eml.compiler.planner import plan_memory
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference


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
