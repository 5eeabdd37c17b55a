"""The Edge Impulse golden vectors (``tests/data/ei_golden``): the files are whole and consistent, and our
``raw`` and ``flatten`` blocks reproduce EI's outputs on every case.

The spectral and audio blocks are compared in their own test files. Parameter names: our ``raw`` and
``flatten`` blocks use EI's names unchanged (``scale-axes``, ``average`` ... ``kurtosis``), so ``Case.params``
is passed to ``make_block`` as is, at the case's implementation version.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.registry import make_block
from ei_golden import BLOCKS, Case, assert_features_close, load_cases, load_file

VERSIONS = {"spectral-analysis": {1, 2, 3, 4}, "spectrogram": {1, 2, 3, 4}, "mfe": {1, 2, 3, 4},
            "mfcc": {1, 2, 3, 4}, "raw": {1}, "flatten": {1}}


@pytest.mark.parametrize("block", BLOCKS)
def test_file_is_complete_and_consistent(block: str) -> None:
    doc = load_file(block)
    gen = doc["generator"]
    assert re.fullmatch(r"[0-9a-f]{40}", gen["processing_blocks_commit"]), gen
    for key in ("python", "numpy", "scipy", "pywt"):
        assert isinstance(gen[key], str) and gen[key], key
    assert isinstance(gen["shims"], list)

    cases = doc["cases"]
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert {c["version"] for c in cases} == VERSIONS[block]
    for c in cases:
        assert c["block"] == block, c["id"]
        assert c["input"] in doc["inputs"], c["id"]
        assert (c["features"] is None) != (c["error"] is None), c["id"]
        inp = doc["inputs"][c["input"]]
        assert len(inp["data"]) % len(inp["axes"]) == 0, c["input"]
    for v in VERSIONS[block]:
        assert any(c["features"] for c in cases if c["version"] == v), f"{block} v{v}: no features"


@pytest.mark.parametrize("block", BLOCKS)
def test_params_are_the_same_set_for_every_case(block: str) -> None:
    """generate_features takes every parameter of the block in every version: each case lists them all."""
    cases = load_file(block)["cases"]
    names = set(cases[0]["params"])
    assert all(set(c["params"]) == names for c in cases)
    # as each parameters.json spells them: dashed (spectral-analysis, raw, flatten) or underscored (audio)
    wrong = "_" if block in ("spectral-analysis", "raw", "flatten") else "-"
    assert not [n for n in names if wrong in n], sorted(names)


@pytest.mark.parametrize("block", BLOCKS)
def test_feature_count_matches_output_config(block: str) -> None:
    for case in load_cases(block):
        if case.features is None or not case.output_config:
            continue
        shape = case.output_config["shape"]
        n = 1
        for v in shape.values():
            assert float(v) == int(v), (case.id, shape)
            n *= int(v)
        assert case.features.size == n, (case.id, case.features.size, shape)


def test_loader_windows_hold_the_stored_values_exactly() -> None:
    doc = load_file("raw")
    for case in load_cases("raw"):
        data = np.asarray(doc["inputs"][case.input_id]["data"], dtype=np.float64)
        assert case.window.dtype == np.float32 and case.window.shape == (1, data.size // len(case.axes),
                                                                          len(case.axes))
        assert np.array_equal(case.window.reshape(-1).astype(np.float64), data), case.input_id


def test_comparison_helper_reports_the_worst_element() -> None:
    theirs = np.array([100.0, 1.0, 0.0, -50.0])
    assert_features_close(theirs * (1 + 5e-5), theirs, "ok")
    assert_features_close(theirs + np.array([0, 0, 9e-4, 0]), theirs, "near-zero floor")  # atol = 1e-3
    with pytest.raises(AssertionError, match=r"bad: 1 of 4 features differ; worst \[1\]"):
        assert_features_close(theirs + np.array([0, 0.01, 0, 0]), theirs, "bad")
    with pytest.raises(AssertionError, match="3 features, EI has 4"):
        assert_features_close(theirs[:3], theirs, "short")


def _ours(case: Case) -> np.ndarray:
    blk = make_block(case.block, case.params, case.version)
    L, A = case.window.shape[1:]
    blk.validate(L, A, case.sampling_freq)
    out = blk.transform(case.window, case.sampling_freq)
    assert out.shape[1:] == blk.output_shape(L, A, case.sampling_freq), case.id
    return np.asarray(out[0])


# Known, reported differences (strict xfail: the test fails once ours matches, so the entry must then go).
KNOWN_DIFFERENCES: dict[str, str] = {}


def _raw_flatten_cases() -> list[object]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[c.id])]
                         if c.id in KNOWN_DIFFERENCES else []) for c in load_cases("raw") + load_cases("flatten")]


@pytest.mark.parametrize("case", _raw_flatten_cases())
def test_raw_and_flatten_match_edge_impulse(case: Case) -> None:
    assert case.error is None, f"{case.id}: EI raised {case.error}"
    assert case.features is not None
    if case.features.size == 0:
        # EI's flatten with every statistic off returns no features; ours refuses the configuration.
        with pytest.raises(InputError):
            _ours(case)
        return
    assert_features_close(_ours(case), case.features, case.id)


def test_generator_params_are_json_types() -> None:
    """Values keep the types EI passes (int / float / bool / str): a bool never stored as 0/1 and so on."""
    for block in BLOCKS:
        for c in load_file(block)["cases"]:
            for k, v in c["params"].items():
                assert isinstance(v, (int, float, bool, str)), (c["id"], k, v)
                json.dumps(v)
