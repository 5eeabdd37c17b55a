"""gemmlowp fixed-point transcendental functions on int32 raw values (numpy int64 arrays).

TFLite Micro's int8 SOFTMAX, LOGISTIC and TANH are built on these (``exp_on_negative_values``,
``one_over_one_plus_x_for_x_in_0_1``...). Raw values follow gemmlowp's ``FixedPoint<int32_t, I>``:
value = raw / 2**(31 - I). Plain ``+``/``-`` wrap like int32; products use the saturating rounding
doubling high multiply.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.core.quant import (
    INT32_MAX,
    saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
    wrap_int32,
)

_mul = saturating_rounding_doubling_high_mul


def _add(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return wrap_int32(np.asarray(a, np.int64) + b)


def _sub(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    return wrap_int32(np.asarray(a, np.int64) - b)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = _add(a, 1 << 28)
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(_add(_mul(_add(x4_over_4, x3), constant_1_over_3), x2), -1)
    return _add(_mul(constant_term, _add(x, poly)), constant_term)


_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
           (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given with ``integer_bits`` integer bits; result has 0 integer bits."""
    a = np.asarray(a, np.int64)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_q_minus_q = _sub(a & mask, one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_q_minus_q, integer_bits))
    remainder = _sub(a_mod_q_minus_q, a)
    for exponent, multiplier in _BARREL:
        if integer_bits > exponent:
            shift = frac_bits + exponent
            result = np.where((remainder & (np.int64(1) << shift)) != 0, _mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result).astype(np.int64)


def _rounding_half_sum(a: np.ndarray, b: int) -> np.ndarray:
    s = np.asarray(a, np.int64) + b
    sign = np.where(s >= 0, 1, -1)
    v = s + sign
    q = np.abs(v) // 2
    return np.where(v < 0, -q, q)


def _newton_reciprocal(a: np.ndarray) -> np.ndarray:
    """Shared Newton-Raphson core: x ~= 1 / ((1 + a) / 2) with 2 integer bits."""
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    x = _add(_mul(half_denominator, -1010580540), 1515870810)
    for _ in range(3):
        hdx = _mul(half_denominator, x)
        one_minus = _sub(1 << 29, hdx)
        x = _add(x, saturating_rounding_multiply_by_pot(_mul(x, one_minus), 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    return saturating_rounding_multiply_by_pot(_newton_reciprocal(a), 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    return saturating_rounding_multiply_by_pot(_sub(_newton_reciprocal(a), 1 << 29), 2)


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    a = np.asarray(a, np.int64)
    positive = a > 0
    abs_input = np.where(positive, a, wrap_int32(-a))
    pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap_int32(-abs_input), integer_bits))
    neg = _sub(INT32_MAX, pos)
    return np.where(a == 0, 1 << 30, np.where(positive, pos, neg)).astype(np.int64)


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    a = np.asarray(a, np.int64)
    negative = a < 0
    n = np.where(negative, a, wrap_int32(-a))
    # ExactMulByPot<1>: same raw value, one more integer bit
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, wrap_int32(-t), t)).astype(np.int64)

