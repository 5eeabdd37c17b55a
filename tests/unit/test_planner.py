"""compiler.planner: non-overlap of live tensors, in-place reuse proven by arena simulation, KWS figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from compiler_plan_helpers import assert_no_illegal_overlap, assert_read_min_sound
from conftest import MLPERF_TINY
from crisp_eml.compiler.arena_check import check_plan
from crisp_eml.compiler.inplace import inplace_lag
from crisp_eml.compiler.planner import MemoryPlan, plan_memory
from crisp_eml.compiler.reader import read_tflite
from crisp_eml.compiler.reference import run_reference
from crisp_eml.core.errors import VerificationError
from crisp_eml.core.graph import Graph

TFLM_KWS_ARENA = 24_272  # smallest arena TFLite Micro runs KWS in (MLPerf README, measured by bisection)


@pytest.fixture(scope="module")
def kws() -> Graph:
    return read_tflite(MLPERF_TINY / "kws_ref_model.tflite")


@pytest.fixture(scope="module")
def ad() -> Graph:
    return read_tflite(MLPERF_TINY / "ad01_int8.tflite")


def test_kws_arena_is_one_activation(kws: Graph) -> None:
    plan = plan_memory(kws)
    assert plan.peak_live_bytes == 16_000  # two 25x5x64 activations
    assert plan.greedy_bytes == 16_000
    # the first conv (10x4 stride 2, 1 -> 64 channels) reads its small input from far above its output; the
    # depthwise 3x3 ring reads one input row (5 x 64) ahead, so its output may start a row ABOVE its input; a
    # pointwise conv writes a pixel after reading it, so it runs exactly in place
    lags = {i: inplace_lag(kws, kws.ops[i]) for i in range(0, 9)}
    assert lags[0] == 7_489
    assert {kws.ops[i].type: lags[i] for i in range(1, 9)} == {"DEPTHWISE_CONV_2D": -5 * 64, "CONV_2D": 0}
    assert [(k, lag) for k, _, _, lag in plan.overlaps][:9] == sorted(lags.items())  # the whole chain in place
    assert plan.method == "exact+inplace"
    assert plan.arena_bytes == 8_000  # no drift: one 25x5x64 activation
    assert plan.peak["op"] == 0 and plan.peak["type"] == "CONV_2D" and plan.peak["live_bytes"] == 8_000
    assert {t["tensor"] for t in plan.peak["tensors"]} == {kws.ops[0].inputs[0], kws.ops[0].outputs[0]}
    assert_no_illegal_overlap(kws, plan)


def test_kws_ram_meets_the_issue_goal(kws: Graph) -> None:
    # ram_bytes = arena + 1 + 2 * scratch_int16 <= 0.40 x TFLM's smallest arena
    from crisp_eml.compiler.c.lower import lower_op

    plan = plan_memory(kws)
    scratch = max(lower_op(kws, op, "m", lambda ti: f"a[{ti}]").scratch_int16 for op in kws.ops)
    assert plan.arena_bytes + 1 + 2 * scratch <= 0.40 * TFLM_KWS_ARENA


@pytest.mark.parametrize("which", ["kws", "ad"])
def test_plan_executes_in_one_arena(which: str, kws: Graph, ad: Graph) -> None:
    g = kws if which == "kws" else ad
    plan = plan_memory(g)
    rng = np.random.default_rng(3)
    xs = [rng.integers(-128, 128, size=g.tensor(i).shape, dtype=np.int8) for i in g.inputs]
    got = check_plan(g, plan, xs)
    for a, b in zip(got, run_reference(g, xs), strict=True):
        assert np.array_equal(a, b)
    assert_no_illegal_overlap(g, plan)


def test_plan_without_inplace_is_plain_non_overlapping(kws: Graph) -> None:
    plan = plan_memory(kws, inplace=False)
    assert all(lag == 0 for lag in plan.inplace.values())  # only the RESHAPE alias
    assert plan.arena_bytes == 16_000
    assert_no_illegal_overlap(kws, plan)


def _one_op(g: Graph, k: int) -> Graph:
    """Op ``k`` of ``g`` alone: its activation inputs are the graph inputs, its outputs the graph outputs."""
    op = dataclasses.replace(g.ops[k], index=0)
    acts = list(dict.fromkeys(ti for ti in op.inputs if ti >= 0 and not g.tensor(ti).is_constant))
    return Graph(g.tensors, [op], acts, list(op.outputs))


def _at(g: Graph, xi: int, yi: int, off_x: int, off_y: int) -> MemoryPlan:
    size = max(off_x + g.tensor(xi).nbytes, off_y + g.tensor(yi).nbytes)
    return MemoryPlan(size, {xi: off_x, yi: off_y}, {})


@pytest.mark.parametrize("k", [0, 1, 2, 9, 11, 12])  # conv 10x4/2, depthwise ring, pointwise, pool, FC, softmax
def test_an_output_one_byte_too_close_is_caught(kws: Graph, k: int) -> None:
    g = _one_op(kws, k)
    xi, yi = g.inputs[0], g.outputs[0]
    lag = inplace_lag(kws, kws.ops[k])
    assert lag is not None
    base = 10_000
    rng = np.random.default_rng(k)
    x = rng.integers(-128, 128, size=g.tensor(xi).shape, dtype=np.int8)
    want = run_reference(g, [x])
    assert np.array_equal(check_plan(g, _at(g, xi, yi, base, base - lag), [x])[0], want[0])  # exactly at the lag
    with pytest.raises(VerificationError, match="before a later group reads it"):
        check_plan(g, _at(g, xi, yi, base, base - lag + 1), [x])  # one byte too aggressive


def test_overlapping_live_tensors_are_caught(ad: Graph) -> None:
    plan = plan_memory(ad)
    broken = dataclasses.replace(plan, offsets=dict(plan.offsets))
    op = ad.ops[3]
    broken.offsets[op.outputs[0]] = broken.offsets[op.inputs[0]]  # FC output on top of its live input
    x = np.zeros(ad.tensor(ad.inputs[0]).shape, np.int8)
    with pytest.raises(VerificationError):
        check_plan(ad, dataclasses.replace(broken, inplace={}), [x])


def test_read_min_is_sound_on_mlperf(kws: Graph, ad: Graph) -> None:
    assert_read_min_sound(kws)
    assert_read_min_sound(ad)


def test_pool_and_softmax_lags(kws: Graph) -> None:
    assert inplace_lag(kws, kws.ops[9]) == 0  # average pool: output c reads only input channel c
    assert inplace_lag(kws, kws.ops[12]) == 11  # softmax reads its whole row again for every output


def test_plan_to_dict_is_json_ready_and_sorted(kws: Graph) -> None:
    import json

    plan = plan_memory(kws)
    d = json.loads(json.dumps(plan.to_dict()))
    assert d["arena_bytes"] == plan.arena_bytes and d["method"] == plan.method
    assert d["offsets"] == {str(k): v for k, v in sorted(plan.offsets.items())}
    assert list(d["offsets"]) == [str(k) for k in sorted(plan.offsets)]
    assert d["inplace"] == {str(k): v for k, v in sorted(plan.inplace.items())}
    assert d["lifetimes"] == {str(k): list(v) for k, v in sorted(plan.lifetimes.items())}
    assert set(d) == {"arena_bytes", "offsets", "inplace", "lifetimes", "peak_live_bytes", "greedy_bytes", "method",
                      "overlaps", "peak"}
    assert d["peak"]["op"] == plan.peak["op"] and len(d["overlaps"]) == len(plan.overlaps)
