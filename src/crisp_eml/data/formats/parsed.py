"""The parser result (:class:`ParsedSample`) and the sanity rules shared by the parsers (frequency, axes,
finite values, file types); the dispatch over formats lives in :mod:`crisp_eml.data.formats.dispatch`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Kind, Sensor

MAX_INTERVAL_MS = 3_600_000.0  # one hour: anything slower is a unit mistake, not a sensor
MAX_FREQUENCY_HZ = 10_000_000.0  # 10 MHz: beyond any sensor or audio ADC this tool is for
MIN_INTERVAL_MS = 1000.0 / MAX_FREQUENCY_HZ
MAX_AXES = 64  # sensors / channels per sample (CSV value columns, Edge Impulse sensors, WAV channels)
SUFFIXES = {
    ".csv": "csv", ".wav": "wav", ".wave": "wav", ".png": "image", ".jpg": "image", ".jpeg": "image",
    ".json": "ei-json", ".cbor": "ei-cbor",
}


class ByteReader(Protocol):
    """What the stream parsers need of a file: forward reads (``io.BytesIO``, an open file, a hashing wrapper)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class ParsedSample:
    """A signal decoded from one file, not yet stored.

    ``array`` is float32 ``[length, axes]`` for time series and audio, uint8 ``[h, w, c]`` for images.
    """

    array: np.ndarray
    kind: Kind
    sensors: tuple[Sensor, ...]
    frequency_hz: float | None
    metadata: dict[str, Any] = field(default_factory=dict)
    device_name: str | None = None
    device_type: str | None = None


def suffix_of(name: str) -> str:
    """The lower-case extension of ``name`` including the dot (``''`` when there is none)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""


def tidy_frequency(hz: float) -> float:
    """Round a rate derived from an interval so that 1000/16 ms gives exactly 62.5 Hz again."""
    for digits in (6, 9):
        r = round(hz, digits)
        if r and abs(r - hz) <= 1e-9 * abs(hz):
            return float(r)
    return float(hz)


def check_interval_ms(interval_ms: Any, source: str, field_name: str = "interval_ms") -> float:
    """Validate a sampling interval in ms: a finite number, at least 1e-4 ms (10 MHz), at most one hour."""
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int | float):
        raise InputError(f"interval must be a number, got {type(interval_ms).__name__}", source=source,
                         field=field_name)
    try:
        v = float(interval_ms)
    except OverflowError:  # an int beyond float range (JSON and CBOR carry arbitrary-size integers)
        v = math.inf
    if math.isnan(v) or math.isinf(v) or v <= 0:
        raise InputError(f"absurd sampling interval {short_repr(interval_ms)} ms (must be > 0 and finite)",
                         source=source, field=field_name)
    if v > MAX_INTERVAL_MS:
        raise InputError(f"absurd sampling interval {v:g} ms (more than one hour)", source=source, field=field_name)
    if v < MIN_INTERVAL_MS:
        raise InputError(f"absurd sampling interval {v:g} ms (faster than {MAX_FREQUENCY_HZ:g} Hz)", source=source,
                         field=field_name)
    return v


def check_frequency(hz: float | None, source: str) -> float | None:
    """Validate a user-given frequency (Hz): finite, at most 10 MHz, not slower than one sample an hour."""
    if hz is None:
        return None
    if math.isnan(hz) or math.isinf(hz) or hz <= 0:
        raise InputError(f"absurd frequency {hz!r} Hz (must be > 0 and finite)", source=source, field="frequency")
    if hz > MAX_FREQUENCY_HZ:
        raise InputError(f"absurd frequency {hz:g} Hz (more than {MAX_FREQUENCY_HZ:g} Hz)", source=source,
                         field="frequency")
    check_interval_ms(1000.0 / hz, source, "frequency")
    return float(hz)


def check_axes(count: int, source: str, field_name: str, what: str) -> int:
    """Refuse more than :data:`MAX_AXES` sensors/channels (a corrupt header, not a real recording)."""
    if count > MAX_AXES:
        raise InputError(f"{count} {what}, more than the {MAX_AXES} a sample may have", source=source,
                         field=field_name)
    return count


def first_infinite(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first +-inf in ``values`` (NaN, a missing value, is allowed), or None."""
    bad = np.isinf(values)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))


def short_repr(v: Any, limit: int = 40) -> str:
    """``repr(v)`` cut to about ``limit`` characters, for messages; never raises (huge ints, deep nesting)."""
    try:
        text = repr(v)
    except (ValueError, RecursionError):  # int beyond sys.get_int_max_str_digits, or nested too deep
        return f"<{type(v).__name__}>"
    return text if len(text) <= limit else f"{text[:limit // 2]}...({len(text)} characters)"


#: Peak memory of parsing (and encoding) a file, as a multiple of its size: a CSV's float32 result is
#: smaller than its text; 8-bit WAV becomes 4 bytes a sample; JSON/CBOR go through Python objects;
#: images decompress (the pixel cap bounds them).
PEAK_FACTOR = {"csv": 2.0, "wav": 5.0, "image": 16.0, "ei-json": 16.0, "ei-cbor": 16.0}


def memory_estimate(name: str, size: int) -> int:
    """A rough upper bound of the bytes parsing ``name`` (``size`` bytes) holds at its peak."""
    return int(size * PEAK_FACTOR.get(SUFFIXES.get(suffix_of(name), ""), 2.0))


def format_of(name: str) -> str:
    """The format key of a file name (``csv``, ``wav``, ``image``, ``ei-json``, ``ei-cbor``); InputError if unknown."""
    fmt = SUFFIXES.get(suffix_of(name))
    if fmt is None:
        raise InputError(f"unsupported file type {suffix_of(name) or '(no extension)'!r}; expected one of "
                         f"{', '.join(sorted(SUFFIXES))}", source=name)
    return fmt
