"""Lookup tables TFLite Micro builds (or ships) for its int16 kernels, computed here exactly.

* ``softmax_luts()``: the two 513-entry int16 tables the int16 SOFTMAX fills in ``Prepare`` with
  ``LUTPopulate<int16_t>`` (``exp`` on [-10, 0] and ``1 / (1 + x)`` on [0, 1]). TFLM computes them in float32
  (``std::exp(float)``); every operation is repeated here in numpy float32 in the same order, and ``expf`` is
  the C library's own (``ctypes``), so the tables are the integers TFLM holds.
* ``sigmoid_table()``: the 256-entry uint16 table ``sigmoid(i / 24)`` in 0.16 fixed point that the int16
  LOGISTIC and TANH kernels interpolate (``sigmoid_table_uint16`` in TFLite's ``common.h``): its definition
  plus the entries TFLite rounds up.
* ``lut_lookup()``: ``LUTLookup(int16, lut)``, the interpolating 9-bit index / 7-bit fraction lookup.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable
from functools import cache

import numpy as np

_F = np.float32
LUT_SIZE = 513


@cache
def _libm_expf() -> Callable[[float], float] | None:
    name = ctypes.util.find_library("m")
    try:
        lib = ctypes.CDLL(name) if name else ctypes.CDLL(None)
        fn = lib.expf
    except (OSError, AttributeError):  # pragma: no cover - every Linux/macOS libc has expf
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn  # type: ignore[no-any-return]


def expf(x: np.float32) -> np.float32:
    """``std::exp(float)``: the C library's ``expf`` (float32 of the double exp only without one)."""
    fn = _libm_expf()
    return _F(fn(float(x))) if fn is not None else _F(math.exp(float(x)))


def round_f32(x: np.float32) -> np.float32:
    """``TfLiteRound(float)`` (``roundf``): half away from zero, exact in float32."""
    t = _F(math.trunc(float(x)))
    frac = _F(abs(x - t))
    if frac >= _F(0.5):
        t = _F(t + (_F(1.0) if x > 0 else _F(-1.0)))
    return t


def lut_populate_int16(input_scale: np.float32, input_zero_point: int, output_scale: np.float32,
                       output_zero_point: int, transform: Callable[[np.float32], np.float32]) -> np.ndarray:
    """``detail::LUTPopulateInt16<float>``: 512 interpolation steps over the input range plus the end point,
    each step biased by half the midpoint interpolation error; all arithmetic in float32."""
    input_min = _F(input_scale * _F(-32768 - input_zero_point))
    input_max = _F(input_scale * _F(32767 - input_zero_point))
    output_min = _F(output_scale * _F(-32768 - output_zero_point))
    output_max = _F(output_scale * _F(32767 - output_zero_point))
    nb_steps = 512
    step = _F((input_max - input_min) / _F(nb_steps))
    half_step = _F(step / _F(2))
    inv = _F(_F(65536) / _F(output_max - output_min))
    lut = np.zeros(LUT_SIZE, np.int64)
    for i in range(nb_steps):
        at = _F(input_min + _F(_F(i) * step))
        val = transform(at)
        val_mid = transform(_F(at + half_step))
        val_next = transform(_F(input_min + _F(_F(i + 1) * step)))
        sample = round_f32(_F(val * inv))
        interp = round_f32(_F(_F(_F(val_next * inv) + round_f32(_F(val * inv))) / _F(2)))
        mid = round_f32(_F(val_mid * inv))
        bias = round_f32(_F(_F(interp - mid) / _F(2)))
        lut[i] = int(min(max(_F(sample - bias), _F(-32768)), _F(32767)))
    lut[nb_steps] = int(min(max(round_f32(_F(transform(input_max) * inv)), _F(-32768)), _F(32767)))
    return lut


@cache
def softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    """(exp table, 1 / (1 + x) table) of TFLM's int16 SOFTMAX, 513 int16 each (as int64 arrays)."""
    rng = _F(65535)
    exp_lut = lut_populate_int16(_F(_F(10.0) / rng), 32767, _F(_F(2.0) / rng), 0, expf)
    recip = lut_populate_int16(_F(_F(1.0) / rng), -32768, _F(_F(2.0) / rng), 0,
                               lambda v: _F(_F(1.0) / _F(_F(1.0) + v)))
    exp_lut.setflags(write=False)
    recip.setflags(write=False)
    return exp_lut, recip


def lut_lookup(value: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``LUTLookup(int16_t, const int16_t *)``: base ``lut[256 + (v >> 7)]`` plus the rounded slope times the
    low 7 bits, ``(slope * (v & 0x7f) + 64) >> 7`` (arithmetic shift), cast to int16."""
    v = np.asarray(value, np.int64)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = lut[index]
    slope = lut[index + 1] - base
    out = base + ((slope * offset + 64) >> 7)
    return ((out + 32768) & 0xFFFF) - 32768


# Entries of TFLite's table that are one above round-to-nearest of 65536 * sigmoid(i / 24) (the table was made
# with some other rounding that is not documented); checked against TFLite Micro's int16 TANH over every input
# in tests/golden/test_int16x8.py.
_ONE_ABOVE = (4, 8, 12, 14, 15, 16, 17, 19, 20, 21, 22, 25, 27, 28, 29, 30, 31, 33, 34, 35, 37, 39, 40, 41, 43, 44,
              45, 46, 49, 50, 54, 62, 63, 64, 66, 82, 86, 93, 100, 103, 112, 116, 135, 255)


@cache
def sigmoid_table() -> np.ndarray:
    """``sigmoid(i / 24)`` for i = 0..255 in 0.16 fixed point as TFLite tabulates it (uint16 values, int64)."""
    vals = [int(math.floor(65536.0 / (1.0 + math.exp(-i / 24.0)) + 0.5)) + (i in _ONE_ABOVE) for i in range(256)]
    out = np.asarray(vals, np.int64)
    out.setflags(write=False)
    return out
