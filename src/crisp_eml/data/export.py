"""Serialize samples back into files that ``eml ingest`` reads, losslessly.

Pure: a sample's metadata and array in, ``(relative path, bytes)`` out. Files are named
``<category>/<label>.<id>.<ext>`` so re-ingesting the folder restores label and category from the
names, and every writer is exact for its kind (float32 values survive CSV/JSON/CBOR, audio is written
as 16-bit PCM only when that is lossless, images as PNG), so a round trip gives the same content hash.

Which format applies to which kind:

==========  ==========================
format      kinds
==========  ==========================
ei-json     timeseries, audio
ei-cbor     timeseries, audio
csv         timeseries
wav         audio (integer sample rate)
png         image
==========  ==========================
"""

from __future__ import annotations

import re

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sample

FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ei-json": (".json", ("timeseries", "audio")),
    "ei-cbor": (".cbor", ("timeseries", "audio")),
    "csv": (".csv", ("timeseries",)),
    "wav": (".wav", ("audio",)),
    "png": (".png", ("image",)),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_\- ]")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}", field="format")
    return fmt


def safe_label(label: str | None) -> str:
    """A label usable as the file-name prefix: dots, slashes and odd characters become ``_``."""
    return _UNSAFE.sub("_", label) if label else "unlabeled"


def applicable(sample: Sample, fmt: str) -> str | None:
    """None when ``sample`` can be written as ``fmt``, else the reason it cannot."""
    _, kinds = FORMATS[check_format(fmt)]
    if sample.kind not in kinds:
        return f"{fmt} does not hold {sample.kind} samples (it holds {', '.join(kinds)})"
    if sample.kind != "image" and not sample.frequency_hz:
        return "sample has no frequency"
    if fmt == "wav" and sample.frequency_hz is not None and float(sample.frequency_hz) != int(sample.frequency_hz):
        return f"WAV needs an integer sample rate, sample has {sample.frequency_hz} Hz"
    return None


def relative_path(sample: Sample, fmt: str, *, category: str | None = None, label: str | None = None) -> str:
    ext = FORMATS[fmt][0]
    return f"{category or sample.category}/{safe_label(label if label is not None else sample.label)}.{sample.id}{ext}"


def serialize(sample: Sample, array: np.ndarray, fmt: str) -> bytes:
    """The file content for ``sample`` in ``fmt`` (call :func:`applicable` first)."""
    reason = applicable(sample, fmt)
    if reason:
        raise InputError(reason, source=sample.id, field="format")
    freq = float(sample.frequency_hz or 0.0)
    if fmt in ("ei-json", "ei-cbor"):
        from crisp_eml.data.formats.ei_acquisition import build_message, encode

        msg = build_message(array, sample.sensors, freq, device_type=sample.device_type or "crisp-eml",
                            device_name=sample.device_name, metadata=_plain(sample.metadata))
        return encode(msg, cbor=(fmt == "ei-cbor"))
    if fmt == "csv":
        from crisp_eml.data.formats.csv_series import write_csv

        return write_csv(array, sample.sensors, freq)
    if fmt == "wav":
        from crisp_eml.data.formats.wav import write_wav

        return write_wav(array, int(freq))
    from crisp_eml.data.formats.image import write_png

    return write_png(array)


def _plain(meta: dict[str, object]) -> dict[str, object]:
    """Metadata without the keys ingestion derives itself (they would otherwise pile up)."""
    derived = {"signature", "wav_bits", "wav_codec", "image_format"}
    return {k: v for k, v in meta.items() if k not in derived}
