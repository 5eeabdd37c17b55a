"""Numbers and durations written for people: no exponents, human durations, and thresholds that never read
as contradictions ("gap 0.100 > 0.1").

Pure and dependency-free (no numpy), so the CLI can import it without slowing start-up. Machine output
(``--json``) keeps the raw numbers; these helpers are for tables and messages only.
"""

from __future__ import annotations

import math
from decimal import Decimal

_UNITS_S = (("d", 86400.0), ("h", 3600.0), ("min", 60.0))


def plain_number(value: float, digits: int = 6) -> str:
    """``value`` with at most ``digits`` significant digits, trailing zeros dropped, never in exponent form:
    1460000 -> "1460000", 0.000277777 -> "0.000277777", 2.50 -> "2.5"."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    if abs(v) >= 10 ** digits:  # more integer digits than asked for: keep them all, drop the fraction
        return str(round(v))
    text = format(Decimal(f"{v:.{digits}g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def duration_ms(ms: float) -> str:
    """A duration in milliseconds as a person reads it: "250 ms", "1.46 s", "24 min 20 s", "24 h",
    "3 d 4 h". Exact to the millisecond (no part is rounded away); days only from two days up."""
    v = float(ms)
    if not math.isfinite(v):
        return f"{v} ms"
    if v < 0:
        return "-" + duration_ms(-v)
    if v < 1000:
        return f"{plain_number(v)} ms"
    seconds = round(v / 1000.0, 3)
    if seconds < 60:
        return f"{plain_number(seconds)} s"
    parts: list[str] = []
    rest = seconds
    for unit, size in _UNITS_S:
        if unit == "d" and seconds < 2 * 86400:
            continue
        count = int(rest // size)
        if count:
            parts.append(f"{count} {unit}")
            rest = round(rest - count * size, 3)
    if rest:
        parts.append(f"{plain_number(rest)} s")
    return " ".join(parts)


def duration_with_ms(ms: float) -> str:
    """:func:`duration_ms` followed by the exact milliseconds when the human form is not already in ms:
    "24 min 20 s (1460000 ms)" - what a user types back into a ``--...-ms`` option."""
    human = duration_ms(ms)
    return human if human.endswith(" ms") else f"{human} ({plain_number(round(float(ms), 3), 15)} ms)"


def distinct_pair(value: float, limit: float, decimals: int = 3, *, percent: bool = False) -> tuple[str, str]:
    """``value`` and ``limit`` with the same number of decimals, at least ``decimals`` and more when needed so
    two different numbers never print alike: (0.1004, 0.1) -> ("0.1004", "0.1000"), not "0.100 > 0.1".
    With ``percent`` both are fractions written as percentages ("10.4%")."""
    scale, suffix = (100.0, "%") if percent else (1.0, "")
    a, b = float(value) * scale, float(limit) * scale
    for d in range(decimals, decimals + 10):
        ta, tb = f"{a:.{d}f}", f"{b:.{d}f}"
        if ta != tb or a == b:
            return ta + suffix, tb + suffix
    return ta + suffix, tb + suffix


def distinct_durations(a_ms: float, b_ms: float) -> tuple[str, str]:
    """Two durations as :func:`duration_ms` when that tells them apart, else both in ms with enough decimals."""
    ha, hb = duration_ms(a_ms), duration_ms(b_ms)
    if ha != hb or float(a_ms) == float(b_ms):
        return ha, hb
    ta, tb = distinct_pair(a_ms, b_ms, 0)
    return f"{ta} ms", f"{tb} ms"
