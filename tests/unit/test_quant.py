"""core.quant: TFLite's fixed-point helpers against scalar oracles written from the C definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
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


# --- edge cases found by mutation testing (scripts/mutation.py, docs/mutation-triage.md) ---------------------------

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _srmpot(x: int, e: int) -> int:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<e>`` on one int32 value."""
    if e <= 0:
        return _rdbp(x, -e)
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << e


def test_tflite_round_returns_an_int() -> None:
    assert all(type(quant.tflite_round(v)) is int for v in (2.5, -2.5, 0.0))


def test_quantize_multiplier_shift_boundaries() -> None:
    # rounding up to 2**31 halves q and bumps a non-zero shift (1 -> 2, -1 -> 0)
    assert quant.quantize_multiplier(2.0 - 2**-39) == (2**30, 2)
    assert quant.quantize_multiplier(0.5 - 2**-41) == (2**30, 0)
    # TFLite flushes to zero only below shift -31: 2**-32 has shift -31 exactly and is kept
    assert quant.quantize_multiplier(2.0**-32) == (2**30, -31)
    assert quant.quantize_multiplier(2.0**-33) == (0, 0)


def test_srdhm_negative_nudge_boundary() -> None:
    # ab + nudge lands exactly on -2**31: C's truncating division gives -1 (a nudge off by one gives 0)
    assert -5 * 214748365 + 1 - (1 << 30) == -(2**31)
    assert int(quant.saturating_rounding_doubling_high_mul(-5, 214748365)) == _srdhm(-5, 214748365) == -1


def test_int32_inputs_are_widened_not_overflowed() -> None:
    a = np.array([2**30, INT32_MAX, -(2**30), INT32_MIN], np.int32)
    b = np.array([2**30, INT32_MAX, 2**30 + 7, INT32_MIN], np.int32)
    got = quant.saturating_rounding_doubling_high_mul(a, b)
    assert got.dtype == np.int64
    assert got.tolist() == [_srdhm(int(x), int(y)) for x, y in zip(a, b, strict=True)]
    assert quant.wrap_int32(np.array([INT32_MAX, INT32_MIN], np.int32)).tolist() == [INT32_MAX, INT32_MIN]
    rd = quant.rounding_divide_by_pot(np.array([7, -7], np.int32), 1)
    assert rd.dtype == np.int64 and rd.tolist() == [4, -4]
    # count_leading_zeros_u32 reads the int32 bit pattern as uint32
    assert quant.count_leading_zeros_u32(np.array([-1, INT32_MIN, 1], np.int32)).tolist() == [0, 0, 31]


@settings(max_examples=300, deadline=None)
@given(I32, st.integers(min_value=-31, max_value=31))
def test_saturating_rounding_multiply_by_pot_matches_gemmlowp(x: int, e: int) -> None:
    assert int(quant.saturating_rounding_multiply_by_pot(np.array(x), e)) == _srmpot(x, e)


@pytest.mark.parametrize("e", [1, 2, 5, 16, 30, 31])
def test_saturating_rounding_multiply_by_pot_saturates_exactly_past_the_threshold(e: int) -> None:
    thr = (1 << (31 - e)) - 1
    xs = [thr, thr + 1, -thr, -thr - 1, 0, 1, -1]
    got = quant.saturating_rounding_multiply_by_pot(np.array(xs, np.int64), e).tolist()
    assert got == [_srmpot(x, e) for x in xs]
    assert got[1] == INT32_MAX and got[3] == INT32_MIN
    assert got[0] == thr << e and got[2] == -thr << e


def test_unsupported_activation_is_named() -> None:
    with pytest.raises(ValueError, match="TANH is not supported"):
        quant.activation_range("TANH", 0.1, 0)


@pytest.mark.parametrize(("int_bits", "left_shift", "total", "expect"), [
    (4, 20, 31, 15 * 2**27 // 2**20),  # 1920: logistic/tanh int8 (4 integer bits)
    (3, 0, 31, 7 * 2**28),
    (5, 26, 31, 31 * 2**26 // 2**26),
    (2, 3, 15, 3 * 2**13 // 2**3),
    (4, 23, 31, math.floor(15 * 2**27 / 2**23)),
])
def test_calculate_input_radius_matches_tflite(int_bits: int, left_shift: int, total: int, expect: int) -> None:
    if total == 31:
        assert quant.calculate_input_radius(int_bits, left_shift) == expect  # the default is 31 signed bits
    assert quant.calculate_input_radius(int_bits, left_shift, total) == expect


def test_count_leading_zeros_at_powers_of_two() -> None:
    xs = [0, 1, 2, 3] + [v for k in range(2, 33) for v in ((1 << k) - 1, 1 << k) if v < 2**32]
    assert quant.count_leading_zeros_u32(np.array(xs)).tolist() == [32 - x.bit_length() for x in xs]
