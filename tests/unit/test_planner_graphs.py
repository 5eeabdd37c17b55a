"""compiler.planner on hand-built edge-case graphs: aliases, unread/unused tensors, states, odd op shapes.

Every plan is checked against the independent oracle (``planner_oracle.assert_plan_valid``): lifetimes,
no overlap of tensors alive together except sanctioned in-place pairs, alignment, arena = top of the plan.
"""

from __future__ import annotations

import pytest

from crisp_eml.compiler.planner import UNUSED, plan_memory
from crisp_eml.core.graph import Graph
from planner_oracle import assert_plan_valid, build, optimal_arena


def _plan(g: Graph, **kw: bool) -> None:
    for exact in (True, False):
        plan = plan_memory(g, exact=exact, **kw)
        assert_plan_valid(g, plan)
        assert plan.arena_bytes <= plan.greedy_bytes


def test_a_graph_without_activations_needs_no_arena() -> None:
    g = build([(4,)], [], [0], [], consts=(0,))  # a constant listed as graph input is not an activation
    for exact, method in ((True, "exact+inplace"), (False, "greedy-by-size")):
        plan = plan_memory(g, exact=exact)
        assert (plan.arena_bytes, plan.greedy_bytes, plan.peak_live_bytes) == (0, 0, 0)
        assert plan.offsets == {} and plan.lifetimes == {} and plan.inplace == {}
        assert plan.method == method  # the search over no buffers is trivially complete


def test_an_unread_graph_input_is_alive_before_op_0() -> None:
    # inputs t0 (never read) and t1; the caller writes both before op 0, so they must not overlap
    g = build([(10,), (3,), (3,)], [("CUSTOM", [1], [2])], [0, 1], [2])
    plan = plan_memory(g)
    assert plan.lifetimes[0] == (-1, -1) and plan.lifetimes[1] == (-1, 0) and plan.lifetimes[2] == (0, 1)
    assert plan.peak_live_bytes == 13  # both inputs, before op 0
    assert plan.arena_bytes == 13
    _plan(g)


def test_an_input_written_over_by_the_first_op_can_be_tensor_0() -> None:
    # tensor 0 is the graph input and the single activation of an in-place op (a RELU: lag 0, same bytes)
    g = build([(8,), (8,)], [("RELU", [0], [1])], [0], [1])
    plan = plan_memory(g)
    assert plan.inplace == {0: 0} and plan.arena_bytes == 8 and plan.overlaps == [(0, 0, 1, 0)]
    assert plan.offsets[1] == plan.offsets[0]
    _plan(g)


def test_a_tensor_read_before_it_is_written_lives_until_its_write() -> None:
    # a state t1: read by op 0, written again by op 1 together with the graph output t3
    g = build([(4,), (8,), (8,), (8,)], [("CUSTOM", [0, 1], [2]), ("CUSTOM", [2], [1, 3])], [0], [3])
    plan = plan_memory(g)
    assert plan.lifetimes[1] == (-1, 1)  # alive from the start, still written at op 1
    assert plan.lifetimes[3] == (1, 2)
    o1, o3 = plan.offsets[1], plan.offsets[3]
    assert o1 + 8 <= o3 or o3 + 8 <= o1  # op 1 writes both: they cannot share bytes
    _plan(g)


def test_a_state_read_late_is_alive_from_the_start() -> None:
    # t3 is read by ops 0 and 2 but written by nobody: it lives from before op 0 to op 2
    g = build([(4,), (4,), (4,), (6,), (4,)],
              [("CUSTOM", [0, 3], [1]), ("CUSTOM", [1], [2]), ("CUSTOM", [2, 3], [4])], [0], [4])
    plan = plan_memory(g)
    assert plan.lifetimes[3] == (-1, 2)
    _plan(g)


def test_an_op_may_write_a_second_output_after_a_state() -> None:
    # op 1's first output is the state t1 (already placed), its second output t3 must still get a lifetime
    g = build([(4,), (8,), (8,), (8,), (8,)],
              [("CUSTOM", [0, 1], [2]), ("CUSTOM", [2], [1, 3]), ("CUSTOM", [3], [4])], [0], [4])
    plan = plan_memory(g)
    assert plan.lifetimes[3] == (1, 2)
    _plan(g)


def test_unused_tensors_get_an_offset_but_take_no_space() -> None:
    g = build([(4,), (4,), (20,), (30,)], [("CUSTOM", [0], [1])], [0], [1])
    plan = plan_memory(g)
    assert plan.offsets[2] == plan.offsets[3] == 0
    assert plan.lifetimes[2] == plan.lifetimes[3] == (UNUSED, UNUSED)
    assert plan.peak_live_bytes == 8
    assert plan.arena_bytes == 30  # the biggest unused tensor still lies inside the arena, the rest on top of it
    _plan(g)


def test_an_earlier_graph_output_is_kept_to_the_end() -> None:
    # t1 is a graph output written by op 0 and read by nobody: op 1 must not write t2 over it
    g = build([(4,), (6,), (6,)], [("CUSTOM", [0], [1]), ("CUSTOM", [0], [2])], [0], [1, 2])
    plan = plan_memory(g)
    assert plan.lifetimes[1] == (0, 2) and plan.lifetimes[2] == (1, 2)
    assert plan.peak_live_bytes == plan.arena_bytes == 16
    _plan(g)


def test_the_peak_can_be_after_the_last_op() -> None:
    g = build([(2,), (5,), (5,)], [("CUSTOM", [0], [1]), ("CUSTOM", [1], [2])], [0], [1, 2])
    plan = plan_memory(g)
    assert plan.peak_live_bytes == 10 and plan.arena_bytes == 10
    _plan(g)


def test_a_dead_output_still_needs_its_own_bytes() -> None:
    # op 0 writes t1 (used) and t2 (read by nobody): both are written at once
    g = build([(4,), (4,), (4,), (4,)], [("CUSTOM", [0], [1, 2]), ("CUSTOM", [1], [3])], [0], [3])
    plan = plan_memory(g)
    assert plan.lifetimes[2] == (0, 0)
    o1, o2 = plan.offsets[1], plan.offsets[2]
    assert o1 + 4 <= o2 or o2 + 4 <= o1
    _plan(g)


@pytest.mark.parametrize("src", [0, 1])
def test_a_reshape_aliases_its_input(src: int) -> None:
    # RESHAPE(t_src) -> t2 shares t_src's bytes: no copy, no extra space, listed with lag 0
    shapes = [(2, 4), (2, 4), (8,), (8,)]
    g = build(shapes, [("RESHAPE", [src], [2]), ("CUSTOM", [2, 1 - src], [3])], [0, 1], [3])
    plan = plan_memory(g)
    assert plan.offsets[2] == plan.offsets[src]
    assert plan.inplace == {0: 0}
    assert plan.lifetimes[2] == plan.lifetimes[src] == (-1, 1)
    assert plan.arena_bytes == 24
    _plan(g)


def test_a_reshape_chain_is_one_buffer() -> None:
    g = build([(8,), (2, 4), (4, 2), (8,)],
              [("RESHAPE", [0], [1]), ("SQUEEZE", [1], [2]), ("CUSTOM", [2], [3])], [0], [3])
    plan = plan_memory(g)
    assert plan.offsets[0] == plan.offsets[1] == plan.offsets[2]
    assert plan.inplace == {0: 0, 1: 0}
    _plan(g)


def test_a_reshape_of_a_constant_or_across_dtypes_is_a_copy() -> None:
    # t0 constant: RESHAPE(t0) -> t2 is a fresh activation; RESHAPE(int8 t1) -> int16 t3 cannot alias either
    g = build([(8,), (8,), (8,), (4,), (8,)],
              [("RESHAPE", [0], [2]), ("RESHAPE", [1], [3]), ("CUSTOM", [2, 3], [4])], [1], [4],
              consts=(0,), dtypes={3: "int16"})
    plan = plan_memory(g)
    assert plan.inplace == {}
    assert 0 not in plan.offsets and plan.lifetimes[2] == (0, 2) and plan.lifetimes[3] == (1, 2)
    _plan(g)


def test_ops_without_inputs_outputs_or_activations() -> None:
    # op 0 makes t1 from nothing; op 1 reads only constants; op 2 is a sink; RESHAPE without input copies;
    # op 4 lists a constant (t5) before its activation output t4
    g = build([(4,), (4,), (6,), (5,), (3,), (2,)],
              [("CUSTOM", [], [1]), ("RELU", [0], [2]), ("CUSTOM", [1, 2], []), ("RESHAPE", [], [3]),
               ("CUSTOM", [3], [5, 4])], [], [4], consts=(0, 5))
    plan = plan_memory(g)
    assert plan.lifetimes[1] == (0, 2) and plan.lifetimes[2] == (1, 2) and plan.lifetimes[3] == (3, 4)
    assert plan.lifetimes[4] == (4, 5) and 5 not in plan.offsets
    assert plan.inplace == {}
    _plan(g)


# op kinds that cannot run in place, each before a RELU over 16 bytes that must (lag 0: element k is read before
# it is written): the peak is the RELU's, so the plan is 16 bytes (+ what the blocker keeps alive) only if the
# RELU still runs in place
Spec = tuple[list[tuple[int, ...]], list[tuple[str, list[int], list[int]]], list[int], int, int]
BLOCKERS: dict[str, Spec] = {  # shapes, ops, graph inputs, the RELU op, optimal arena
    "alias": ([(16,), (4, 4), (16,)], [("RESHAPE", [0], [1]), ("RELU", [1], [2])], [0], 1, 16),
    "two activations": ([(1,), (1,), (16,), (16,)], [("CUSTOM", [0, 1], [2]), ("RELU", [2], [3])], [0, 1], 1, 18),
    "input still alive": ([(2,), (2,), (16,), (16,), (1,)],
                          [("RELU", [0], [1]), ("CUSTOM", [1], [2]), ("RELU", [2], [3]), ("CUSTOM", [0, 3], [4])],
                          [0], 2, 20),
    "no kernel contract": ([(1,), (16,), (16,)], [("CUSTOM", [0], [1]), ("RELU", [1], [2])], [0], 1, 17),
    "constants only": ([(1,), (16,), (16,)], [("CUSTOM", [0], [1]), ("RELU", [1], [2])], [], 1, 16),
}


@pytest.mark.parametrize("case", sorted(BLOCKERS))
def test_inplace_survives_an_op_that_cannot_run_in_place(case: str) -> None:
    shapes, ops, inputs, relu, arena = BLOCKERS[case]
    g = build(shapes, ops, inputs, [len(shapes) - 1], consts=(0,) if case == "constants only" else ())
    assert optimal_arena(g) == arena
    for exact in (True, False):
        plan = plan_memory(g, exact=exact)
        assert plan.inplace.get(relu) == 0 and (relu, g.ops[relu].inputs[0], g.ops[relu].outputs[0], 0) in \
            plan.overlaps, plan
        assert plan.arena_bytes == arena
        assert_plan_valid(g, plan)


def test_offsets_are_aligned_to_the_item_size() -> None:
    # int8 of odd sizes next to int16/int32 tensors alive at the same time
    g = build([(3,), (2,), (5,), (3,), (1,)],
              [("CUSTOM", [0], [1]), ("CUSTOM", [0, 1], [2]), ("CUSTOM", [1, 2], [3]), ("CUSTOM", [2, 3], [4])],
              [0], [4], dtypes={1: "int32", 3: "int16", 4: "int32"})
    for exact in (True, False):
        plan = plan_memory(g, exact=exact)
        assert_plan_valid(g, plan)  # checks offset % itemsize == 0 and int offsets
        assert plan.offsets[1] % 4 == 0 and plan.offsets[3] % 2 == 0
    assert plan_memory(g).arena_bytes == optimal_arena(g)
