"""compiler.planner: non-overlap of live tensors, in-place reuse proven by arena simulation, KWS figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from compiler_plan_helpers import assert_no_illegal_overlap, assert_read_min_sound
from conftest import MLPERF_TINY
from crisp_eml.compiler.arena_check import check_plan
from crisp_eml.compiler.inplace import inplace_lag
from crisp_eml.compiler.planner import plan_memory
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


def test_kws_arena_under_six_tenths_of_tflm(kws: Graph) -> None:
    plan = plan_memory(kws)
    assert plan.peak_live_bytes == 16_000  # two 25x5x64 activations
    assert plan.greedy_bytes == 16_000
    assert plan.arena_bytes < 0.6 * TFLM_KWS_ARENA
    assert plan.arena_bytes < plan.peak_live_bytes  # only possible with in-place ops
    # the depthwise (3x3 SAME on 5 columns x 64 ch) and pointwise (64 in) lags
    from crisp_eml.compiler.c.kernel_groups import KERNEL_GROUPS

    # depthwise 3x3 SAME on 5 columns x 64 channels: an output reads from one row and one column back
    # (6 * 64 elements) plus its write group; pointwise with 64 input channels reads its whole pixel
    lags = {i: inplace_lag(kws, kws.ops[i]) for i in range(1, 9)}
    assert {kws.ops[i].type: lag for i, lag in lags.items()} == {
        "DEPTHWISE_CONV_2D": 6 * 64 + KERNEL_GROUPS["DEPTHWISE_CONV_2D"], "CONV_2D": 64}
    assert all(plan.inplace.get(i) == lag for i, lag in lags.items())  # the whole chain runs in place
    # each in-place op shifts the activation down by its lag: one 8,000 B activation plus the drift
    assert plan.method == "exact+inplace"
    assert plan.arena_bytes == 8_000 + sum(lag for lag in lags.values() if lag is not None)
    assert_no_illegal_overlap(kws, plan)


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


def test_a_shifted_inplace_output_is_caught(kws: Graph) -> None:
    plan = plan_memory(kws)
    op = next(kws.ops[i] for i, lag in plan.inplace.items() if lag > 0)
    broken = dataclasses.replace(plan, offsets=dict(plan.offsets))
    broken.offsets[op.outputs[0]] += 1  # one byte too close to its input
    x = np.zeros(kws.tensor(kws.inputs[0]).shape, np.int8)
    with pytest.raises(VerificationError, match="clobbers input"):
        check_plan(kws, broken, [x])


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


def test_elementwise_lag_is_one_byte(kws: Graph) -> None:
    assert inplace_lag(kws, kws.ops[9]) == 1  # average pool: output c reads input channel c first
    assert inplace_lag(kws, kws.ops[12]) == 12  # softmax reads its whole row before writing


def test_plan_to_dict_is_json_ready_and_sorted(kws: Graph) -> None:
    import json

    plan = plan_memory(kws)
    d = json.loads(json.dumps(plan.to_dict()))
    assert d["arena_bytes"] == plan.arena_bytes and d["method"] == plan.method
    assert d["offsets"] == {str(k): v for k, v in sorted(plan.offsets.items())}
    assert list(d["offsets"]) == [str(k) for k in sorted(plan.offsets)]
    assert d["inplace"] == {str(k): v for k, v in sorted(plan.inplace.items())}
    assert d["lifetimes"] == {str(k): list(v) for k, v in sorted(plan.lifetimes.items())}
    assert set(d) == {"arena_bytes", "offsets", "inplace", "lifetimes", "peak_live_bytes", "greedy_bytes", "method"}
