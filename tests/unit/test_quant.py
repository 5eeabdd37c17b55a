"""core.quant: TFLite's fixed-point helpers against scalar oracles written from the C definitions."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crisp_eml.core import quant

I32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _c_div(ab + nudge, 1 << 31)


def _rdbp(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


@settings(max_examples=300, deadline=None)
@given(I32, I32)
def test_srdhm_matches_c_definition(a: int, b: int) -> None:
    assert int(quant.saturating_rounding_doubling_high_mul(a, b)) == _srdhm(a, b)


@settings(max_examples=300, deadline=None)
@given(I32, st.integers(min_value=0, max_value=31))
def test_rounding_divide_by_pot_matches_c_definition(x: int, e: int) -> None:
    assert int(quant.rounding_divide_by_pot(x, e)) == _rdbp(x, e)


def test_rounding_divide_rounds_half_away_from_zero() -> None:
    assert quant.rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 1).tolist() == [3, -3, 3, -3, 4, -4]


def test_srdhm_saturates_the_single_overflow_case() -> None:
    assert int(quant.saturating_rounding_doubling_high_mul(-(2**31), -(2**31))) == 2**31 - 1


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-9, max_value=1e4, allow_nan=False))
def test_quantize_multiplier_reconstructs_the_real_value(real: float) -> None:
    m, s = quant.quantize_multiplier(real)
    assert 2**30 <= m < 2**31
    assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=2**-30)


def test_quantize_multiplier_edge_cases() -> None:
    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(0.5) == (2**30, 0)
    assert quant.quantize_multiplier(1.0) == (2**30, 1)
    # q rounds up to exactly 2**31: halved and the shift bumped
    assert quant.quantize_multiplier(1.0 - 2**-40) == (2**30, 1)
    assert quant.quantize_multiplier(1e-12) == (0, 0)  # shift below -31 flushes to zero


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**20), max_value=2**20), st.floats(min_value=1e-6, max_value=0.99))
def test_multiply_by_quantized_multiplier_approximates_the_product(x: int, real: float) -> None:
    m, s = quant.quantize_multiplier(real)
    got = int(quant.multiply_by_quantized_multiplier(x, m, s))
    expect = _rdbp(_srdhm(x * (1 << max(s, 0)), m), max(-s, 0))
    assert got == expect
    assert abs(got - x * real) <= 1


def test_tflite_round_is_half_away_from_zero() -> None:
    assert [quant.tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4)] == [1, 2, 3, -1, -3, 2]


def test_activation_ranges() -> None:
    assert quant.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, -5) == (-5, 127)
    assert quant.activation_range("RELU6", 0.05, -128) == (-128, -8)
    assert quant.activation_range("RELU_N1_TO_1", 0.01, 0) == (-100, 100)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_count_leading_zeros(x: int) -> None:
    expect = 32 - x.bit_length()
    assert int(quant.count_leading_zeros_u32(np.array([x]))[0]) == expect
