"""Requirements as data: the KPIs a project can demand, their direction, units and validation.

Business Understanding turns "good enough" into numbers. A :class:`RequirementSet` is a target device
name plus thresholds keyed by KPI name (``min_accuracy``, ``max_ram_bytes``...); per-class KPIs add the
class after a dot (``min_f1.walking``). Pure: parsing and validation only, no storage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crisp_eml.core.errors import InputError

DATA_PHASE = "data-acquisition"
MODEL_PHASE = "model-development"


@dataclass(frozen=True)
class Kpi:
    """One measurable requirement. ``direction`` is ``min`` (measured >= threshold) or ``max``."""

    name: str
    direction: str
    unit: str  # ratio | bytes | ms | score | count | per_hour
    evidence: str  # key of the evidence item it is compared with
    description: str
    remedy: str  # what to run to produce the evidence
    phase: str  # the phase a failure sends work back to
    per_class: bool = False


_TEST = "train a model and test its int8 variant ('eml train', 'eml test')"
_COMPILE = "compile the model for the target ('eml compile MODEL --target T')"
_CALIBRATE = "calibrate the post-processing on a long stream ('eml calibrate MODEL')"
KPIS: dict[str, Kpi] = {k.name: k for k in (
    Kpi("min_accuracy", "min", "ratio", "accuracy", "test accuracy of the int8 model", _TEST, MODEL_PHASE),
    Kpi("min_f1", "min", "ratio", "f1", "macro F1 of the int8 model on the test set; "
        "min_f1.<class> for one class", _TEST, MODEL_PHASE, per_class=True),
    Kpi("max_false_accept_rate", "max", "ratio", "far", "false-accept rate (one-vs-rest false positive rate, "
        "averaged over classes)", _TEST, MODEL_PHASE),
    Kpi("max_false_reject_rate", "max", "ratio", "frr", "false-reject rate (one-vs-rest miss rate, averaged "
        "over classes)", _TEST, MODEL_PHASE),
    Kpi("max_int8_accuracy_drop", "max", "ratio", "int8_drop", "test accuracy lost by quantisation (float32 "
        "accuracy minus int8 accuracy, same testing set)", _TEST, MODEL_PHASE),
    Kpi("max_false_accepts_per_hour", "max", "per_hour", "far_per_hour", "false accepts per hour on a long "
        "stream with the calibrated post-processing", _CALIBRATE, MODEL_PHASE),
    Kpi("max_stream_false_reject_rate", "max", "ratio", "stream_frr", "events missed on a long stream with the "
        "calibrated post-processing", _CALIBRATE, MODEL_PHASE),
    Kpi("max_latency_ms", "max", "ms", "latency_ms", "estimated inference latency on the target (DSP + model)",
        "estimate latency on the target ('eml profile MODEL --target T')", MODEL_PHASE),
    Kpi("max_ram_bytes", "max", "bytes", "ram_bytes", "RAM the compiled library needs (arena + buffers)",
        _COMPILE, MODEL_PHASE),
    Kpi("max_flash_bytes", "max", "bytes", "flash_bytes", "flash the compiled library needs (code + weights)",
        _COMPILE, MODEL_PHASE),
    Kpi("min_quality_score", "min", "score", "quality_score", "dataset quality score (0-100)",
        "check the dataset ('eml data check')", DATA_PHASE),
    Kpi("min_samples_per_class", "min", "count", "samples_per_class", "fewest samples of any class "
        "(min_samples_per_class.<class> for one class)", "ingest data ('eml ingest PATHS')", DATA_PHASE,
        per_class=True),
)}
# Short names people type; stored under the canonical KPI name.
ALIASES = {
    "accuracy": "min_accuracy", "f1": "min_f1", "far": "max_false_accept_rate", "frr": "max_false_reject_rate",
    "max_far": "max_false_accept_rate", "max_frr": "max_false_reject_rate", "latency_ms": "max_latency_ms",
    "max_latency": "max_latency_ms", "max_ram": "max_ram_bytes", "ram": "max_ram_bytes",
    "max_flash": "max_flash_bytes", "flash": "max_flash_bytes", "quality": "min_quality_score",
    "min_quality": "min_quality_score", "min_samples": "min_samples_per_class",
    "int8_drop": "max_int8_accuracy_drop", "max_int8_drop": "max_int8_accuracy_drop",
    "far_per_hour": "max_false_accepts_per_hour", "max_far_per_hour": "max_false_accepts_per_hour",
    "stream_frr": "max_stream_false_reject_rate", "max_stream_frr": "max_stream_false_reject_rate",
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|k|kb|kib|m|mb|mib)?\s*$", re.IGNORECASE)
_MULT = {None: 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 * 1024, "mb": 1024 * 1024,
         "mib": 1024 * 1024}
_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")


def split_key(key: str) -> tuple[Kpi, str | None]:
    """``min_f1.walking`` -> (the min_f1 KPI, "walking"). Raises :class:`InputError` for unknown keys."""
    base, _, cls = key.strip().partition(".")
    base = ALIASES.get(base.lower(), base.lower())
    kpi = KPIS.get(base)
    if kpi is None:
        raise InputError(f"unknown KPI {base!r}; one of {sorted(KPIS)} (or 'target')", field=key)
    if cls and not kpi.per_class:
        raise InputError(f"{kpi.name} is not a per-class KPI", field=key)
    if cls and not _CLASS.match(cls):
        raise InputError("class names use letters, digits, spaces, '.', '_' or '-'", field=key)
    return kpi, (cls or None)


def parse_value(kpi: Kpi, raw: str | float | int, *, key: str | None = None) -> float | int:
    """Validate and normalise a threshold: ratios accept ``0.9`` or ``90%``; sizes accept ``64k``/``1MiB``."""
    where = key or kpi.name
    text = str(raw).strip()
    try:
        if kpi.unit == "ratio":
            value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"must be between 0 and 1 (or 0%..100%), got {text!r}", field=where)
            return value
        if kpi.unit == "bytes":
            m = _SIZE.match(text)
            if not m:
                raise InputError(f"expected a byte count such as 65536, 64k or 1MiB, got {text!r}", field=where)
            n = float(m.group(1)) * _MULT[m.group(2).lower() if m.group(2) else None]
            if n <= 0:
                raise InputError("must be positive", field=where)
            return int(n)
        if kpi.unit == "count":
            value_i = int(text)
            if value_i < 0:
                raise InputError("must be zero or more", field=where)
            return value_i
        value = float(text)
    except ValueError as exc:
        raise InputError(f"expected a number, got {text!r}", field=where) from exc
    if kpi.unit == "score" and not 0.0 <= value <= 100.0:
        raise InputError(f"a quality score is between 0 and 100, got {text!r}", field=where)
    if value < 0:
        raise InputError("must be zero or more", field=where)
    return value


@dataclass(frozen=True)
class RequirementSet:
    """A version of the project's requirements: the target device and KPI thresholds."""

    version: int = 0
    target: str | None = None
    kpis: dict[str, float | int] = field(default_factory=dict)
    author: str = ""
    at: str = ""
    message: str = ""

    def is_empty(self) -> bool:
        return not self.kpis and not self.target

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "target": self.target, "kpis": dict(self.kpis), "author": self.author,
                "at": self.at, "message": self.message}


def canonical_key(key: str) -> str:
    kpi, cls = split_key(key)
    return f"{kpi.name}.{cls}" if cls else kpi.name


def apply_changes(current: Mapping[str, float | int], target: str | None,
                  assignments: Mapping[str, str]) -> tuple[str | None, dict[str, float | int]]:
    """Apply ``KEY=VALUE`` assignments. ``target=NAME`` sets the device; ``KEY=`` or ``KEY=none`` removes."""
    kpis = dict(current)
    for raw_key, raw_value in assignments.items():
        key = raw_key.strip()
        value = raw_value.strip()
        if key.lower() == "target":
            target = None if value.lower() in ("", "none") else value
            continue
        ckey = canonical_key(key)
        if value.lower() in ("", "none"):
            kpis.pop(ckey, None)
            continue
        kpis[ckey] = parse_value(split_key(ckey)[0], value, key=key)
    return target, dict(sorted(kpis.items()))


_OPERATOR = re.compile(r"^(?P<key>[^=<>!]+?)\s*(?:>=|<=|!=|==|=>|=<|>|<)\s*(?P<value>.*)$", re.DOTALL)


def _comparison_hint(item: str) -> str | None:
    """Why ``min_accuracy>=0.9`` (or ``<=``, ``!=``, ``==``, ``>``) is refused, or None for a plain assignment.

    Requirements are ``KEY=VALUE``; the comparison comes from the KPI (``min_*`` is a floor, ``max_*`` a
    ceiling), so an operator typed by the user is refused with the spelling to use instead.
    """
    key, eq, value = item.partition("=")
    if eq:
        typed = key.rstrip().endswith((">", "<", "!")) or value.lstrip().startswith(("=", ">", "<"))
    else:
        typed = "<" in item or ">" in item
    if not typed:
        return None
    m = _OPERATOR.match(item.strip())
    if m is None:
        return f"expected KEY=VALUE, got {item!r}"
    name, threshold = m["key"].strip(), m["value"].strip() or "VALUE"
    base = name.partition(".")[0].lower()
    kpi = KPIS.get(ALIASES.get(base, base))
    if kpi is not None:
        known = f" ({kpi.name} means measured {'>=' if kpi.direction == 'min' else '<='} VALUE)"
    elif base == "target":
        known = ""
    else:
        known = f" ({name!r} is not a known KPI either; one of {sorted(KPIS)})"
    return (f"requirements are KEY=VALUE and the comparison comes from the KPI{known}: "
            f"use {name}={threshold}, not {item.strip()!r}")


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["min_accuracy=0.9", "target=cortex-m4f-80mhz"]`` -> dict; names the bad item on error."""
    out: dict[str, str] = {}
    for item in items:
        comparison = _comparison_hint(item)
        if comparison:
            raise InputError(comparison, field="requirements")
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise InputError(f"expected KEY=VALUE, got {item!r}", field="requirements")
        out[key.strip()] = value
    if not out:
        raise InputError("nothing to set: give KEY=VALUE pairs, e.g. min_accuracy=0.9", field="requirements")
    return out


def format_value(unit: str, value: float | int | None) -> str:
    """Human-readable value: ratios as percentages, sizes in bytes/KiB."""
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{100.0 * float(value):.1f}%"
    if unit == "bytes":
        v = int(value)
        return f"{v} B ({v / 1024:.1f} KiB)" if v >= 1024 else f"{v} B"
    if unit == "ms":
        return f"{float(value):.2f} ms"
    if unit == "count":
        return str(int(value))
    if unit == "per_hour":
        return f"{float(value):.2f}/h"
    return f"{float(value):.1f}"
