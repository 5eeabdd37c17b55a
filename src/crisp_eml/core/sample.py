"""The sample entity: one recording (time series, audio clip or image) with its label and category.

Entities are plain dataclasses, separate from database rows, so the pure layers (DSP, learning,
compiler) never touch SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["timeseries", "audio", "image"]
CATEGORIES = ("training", "testing")
#: Sample layers: ``raw`` as ingested, ``clean`` written by ``eml data clean``.
LAYERS = ("raw", "clean")


@dataclass(frozen=True)
class Sensor:
    name: str
    units: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "units": self.units}


@dataclass(frozen=True)
class Sample:
    """Metadata of a stored sample. Its signal lives in the blob store under ``hash``.

    Signal layout: time series and audio are float32 ``[length, axes]``; images are uint8
    ``[height, width, channels]`` (``length`` = height).
    """

    id: str
    name: str
    label: str | None
    category: str
    kind: Kind
    sensors: tuple[Sensor, ...]
    frequency_hz: float | None
    interval_ms: float | None
    length: int
    shape: tuple[int, ...]
    hash: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    device_name: str | None = None
    device_type: str | None = None
    layer: str = "raw"
    parent_id: str | None = None
    enabled: bool = True
    source_hash: str | None = None
    created_at: datetime | None = None

    @property
    def axes(self) -> list[str]:
        return [s.name for s in self.sensors]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "label": self.label, "category": self.category,
            "kind": self.kind, "sensors": [s.to_dict() for s in self.sensors],
            "frequency_hz": self.frequency_hz, "interval_ms": self.interval_ms, "length": self.length,
            "shape": list(self.shape), "hash": self.hash, "source": self.source,
            "metadata": dict(self.metadata), "device_name": self.device_name,
            "device_type": self.device_type, "layer": self.layer, "parent_id": self.parent_id,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def content_identity(blob_hash: str, kind: str, frequency_hz: float | None, sensors: Iterable[Sensor]) -> str:
    """What makes two recordings "the same sample": the signal's bytes *and* how to read them.

    The blob hash covers the values only, so a 16 kHz and a 1 Hz recording of the same numbers, or the same
    numbers under other axis names or units, would look like duplicates; the identity adds the kind, the rate
    (exact float) and the axes. The database holds it under a unique index, so duplicates are refused there.
    """
    body = json.dumps({"blob": blob_hash, "kind": kind,
                       "frequency_hz": None if frequency_hz is None else float(frequency_hz).hex(),
                       "axes": [[s.name, s.units] for s in sensors]}, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()
