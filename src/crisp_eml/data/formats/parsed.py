"""The parser result (:class:`ParsedSample`), frequency sanity rules and the by-extension dispatcher."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Kind, Sensor

MAX_INTERVAL_MS = 3_600_000.0  # one hour: anything slower is a unit mistake, not a sensor
SUFFIXES = {
    ".csv": "csv", ".wav": "wav", ".wave": "wav", ".png": "image", ".jpg": "image", ".jpeg": "image",
    ".json": "ei-json", ".cbor": "ei-cbor",
}


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
    """Validate a sampling interval in ms: a finite number > 0 and at most one hour."""
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int | float):
        raise InputError(f"interval must be a number, got {type(interval_ms).__name__}", source=source,
                         field=field_name)
    v = float(interval_ms)
    if math.isnan(v) or math.isinf(v) or v <= 0:
        raise InputError(f"absurd sampling interval {interval_ms!r} ms (must be > 0 and finite)", source=source,
                         field=field_name)
    if v > MAX_INTERVAL_MS:
        raise InputError(f"absurd sampling interval {v:g} ms (more than one hour)", source=source, field=field_name)
    return v


def check_frequency(hz: float | None, source: str) -> float | None:
    """Validate a user-given frequency (Hz): positive, finite and not slower than one sample an hour."""
    if hz is None:
        return None
    if math.isnan(hz) or math.isinf(hz) or hz <= 0:
        raise InputError(f"absurd frequency {hz!r} Hz (must be > 0 and finite)", source=source, field="frequency")
    check_interval_ms(1000.0 / hz, source, "frequency")
    return float(hz)


def parse_bytes(
    data: bytes, name: str, *, frequency_hz: float | None = None, hmac_key: str | bytes | None = None,
) -> ParsedSample:
    """Parse one file by its extension (``.csv .wav .png .jpg .jpeg .json .cbor``)."""
    fmt = SUFFIXES.get(suffix_of(name))
    if fmt == "csv":
        from crisp_eml.data.formats.csv_series import parse_csv

        return parse_csv(data, name, frequency_hz=frequency_hz)
    if fmt == "wav":
        from crisp_eml.data.formats.wav import parse_wav

        return parse_wav(data, name)
    if fmt == "image":
        from crisp_eml.data.formats.image import parse_image

        return parse_image(data, name)
    if fmt in ("ei-json", "ei-cbor"):
        from crisp_eml.data.formats.ei_acquisition import parse_ei

        return parse_ei(data, name, hmac_key=hmac_key, cbor=(fmt == "ei-cbor"))
    raise InputError(f"unsupported file type {suffix_of(name) or '(no extension)'!r}; expected one of "
                     f"{', '.join(sorted(SUFFIXES))}", source=name)
