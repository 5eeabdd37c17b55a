"""Use case: one sample's raw values, as JSON-ready data or as a file (``GET /api/v1/samples/{ref}/data``).

JSON gives the stored array as it is (time series and audio: ``[length][axes]`` float32 values, exact as
float64; images: ``[height][width][channels]`` uint8), with the non-finite values a recording may hold (NaN,
±inf: JSON has none) as ``null``. The file formats are exactly those of ``eml data export`` (``csv`` with its
``timestamp`` column, ``ei-json``, ``ei-cbor``, ``wav``, ``png``), so a download ingests back to the same sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.data.export import FORMATS, applicable, relative_path, serialize
from crisp_eml.data.samples import get_sample
from crisp_eml.store.project import Project
from crisp_eml.workspace.check import read_signal

#: format -> media type of the file it gives
MEDIA_TYPES = {"csv": "text/csv", "ei-json": "application/json", "ei-cbor": "application/cbor",
               "wav": "audio/wav", "png": "image/png"}
FILE_FORMATS = tuple(FORMATS)


@dataclass(frozen=True)
class SampleFile:
    filename: str
    media_type: str
    content: bytes


def _values(arr: np.ndarray) -> list[Any]:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        obj = arr.astype(object)
        obj[~np.isfinite(arr)] = None
        return [[None if v is None else float(v) for v in row] for row in obj]
    out: list[Any] = arr.tolist()
    return out


def _signal(project: Project, ref: str) -> tuple[Any, np.ndarray]:
    sample = get_sample(project, ref)
    arr, why = read_signal(project, sample)
    if arr is None:
        raise InputError(f"the sample's values cannot be read: {why}", source=sample.id)
    return sample, arr


def sample_values(project: Project, ref: str) -> dict[str, Any]:
    """The sample's axes, rate, shape and values (see the module docstring)."""
    sample, arr = _signal(project, ref)
    return {"id": sample.id, "name": sample.name, "kind": sample.kind, "sensors": [s.to_dict() for s in sample.sensors],
            "frequency_hz": sample.frequency_hz, "shape": list(arr.shape), "values": _values(arr)}


def sample_file(project: Project, ref: str, fmt: str) -> SampleFile:
    """The sample as one file of ``fmt`` (an ``eml data export`` format that holds its kind)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of json, {', '.join(FORMATS)}", field="format")
    sample, arr = _signal(project, ref)
    reason = applicable(sample, fmt)
    if reason:
        raise InputError(f"sample {sample.id} ({sample.kind}): {reason}", field="format")
    name = relative_path(sample, fmt).rsplit("/", 1)[-1]
    return SampleFile(name, MEDIA_TYPES[fmt], serialize(sample, arr, fmt))
