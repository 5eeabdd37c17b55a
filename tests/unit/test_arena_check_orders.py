"""In-place over several inputs (ADD over either one) and ops with several outputs, planner and arena check."""

from __future__ import annotations

import numpy as np
import pytest

from compiler_plan_helpers import assert_no_illegal_overlap
from crisp_eml.compiler import opdefs
from crisp_eml.compiler.arena_check import check_plan
from crisp_eml.compiler.inplace import inplace_lag
from crisp_eml.compiler.planner import MemoryPlan, plan_memory
from crisp_eml.compiler.reference import run_reference
from crisp_eml.core.errors import VerificationError
from crisp_eml.core.graph import Graph, Op, Tensor


def _t(i: int, shape: tuple[int, ...], scale: float = 0.05) -> Tensor:
    return Tensor(i, f"t{i}", shape, "int8", np.array([scale], np.float32), np.array([0], np.int64))


def _add_graph() -> Graph:
    # a, b -> ADD -> y: both inputs die at the ADD, so y may be written over either of them
    return Graph([_t(0, (1, 4, 4, 8)), _t(1, (1, 4, 4, 8), 0.1), _t(2, (1, 4, 4, 8), 0.2)],
                 [Op(0, "ADD", [0, 1], [2], {"fused_activation_function": "NONE"})], [0, 1], [2])


def _inputs(g: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=g.tensor(i).shape, dtype=np.int8) for i in g.inputs]


def test_add_writes_over_either_input() -> None:
    g = _add_graph()
    assert inplace_lag(g, g.ops[0], 0) == 0 and inplace_lag(g, g.ops[0], 1) == 0
    plan = plan_memory(g)
    assert plan.arena_bytes == 256 and len(plan.overlaps) == 1
    assert_no_illegal_overlap(g, plan)
    xs = _inputs(g)
    want = run_reference(g, xs)[0]
    for over in (0, 1):
        other = 1 - over
        ok = MemoryPlan(258, {over: 1, other: 130, 2: 1}, {})
        assert np.array_equal(check_plan(g, ok, xs)[0], want)
        with pytest.raises(VerificationError, match="before a later group reads it"):
            check_plan(g, MemoryPlan(258, {over: 1, other: 130, 2: 2}, {}), xs)  # one byte too far up


def test_add_over_both_inputs_at_once_checks_each() -> None:
    g = _add_graph()
    xs = _inputs(g, 1)
    # y spans the end of a and the start of b: each element k is still read before it is written
    bad = MemoryPlan(256, {0: 0, 1: 128, 2: 64}, {})
    with pytest.raises(VerificationError):  # y at 64 lands on a's bytes 64.. while a is read at k = 0..63 first
        check_plan(g, bad, xs)
    assert np.array_equal(check_plan(g, MemoryPlan(256, {0: 0, 1: 128, 2: 0}, {}), xs)[0], run_reference(g, xs)[0])


def _split2() -> None:
    """A two-output op registered for this test only (the SPLIT family is another module's)."""
    if ("TEST_SPLIT2", "int8") in opdefs._REGISTRY:
        return

    def ref(g: Graph, op: Op, args: list[np.ndarray | None], p: dict[str, int]) -> list[np.ndarray]:
        x = args[0]
        assert x is not None
        return [x[..., :4], x[..., 4:]]

    opdefs.register(opdefs.OpDef("TEST_SPLIT2", "int8", params=lambda g, op: {}, reference=ref,
                                 lower=lambda g, op, ctx: None, group=1, read_min=None))


def test_an_op_with_two_outputs_gets_two_buffers_and_no_overlap() -> None:
    _split2()
    g = Graph([_t(0, (2, 8)), _t(1, (2, 4)), _t(2, (2, 4))], [Op(0, "TEST_SPLIT2", [0], [1, 2])], [0], [1, 2])
    assert inplace_lag(g, g.ops[0]) is None  # several outputs: never in place
    plan = plan_memory(g)
    assert plan.arena_bytes == 32 and plan.overlaps == []
    xs = _inputs(g)
    for a, b in zip(check_plan(g, plan, xs), run_reference(g, xs), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(VerificationError, match="write order is unknown"):
        check_plan(g, MemoryPlan(24, {0: 0, 1: 0, 2: 16}, {}), xs)  # output 1 over the dying input
    with pytest.raises(VerificationError, match="overwrites live tensor"):
        check_plan(g, MemoryPlan(32, {0: 16, 1: 0, 2: 4}, {}), xs)  # the two outputs share bytes
