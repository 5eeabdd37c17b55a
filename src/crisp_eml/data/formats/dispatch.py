"""Parse one file by its extension: the table from format to parser, over bytes and over a stream.

Kept apart from :mod:`crisp_eml.data.formats.parsed` (the shared result type and checks every parser imports),
so the parsers import that module and this one imports the parsers: no import circle.
"""

from __future__ import annotations

from collections.abc import Callable

from crisp_eml.data.formats.csv_series import parse_csv, parse_csv_stream
from crisp_eml.data.formats.ei_acquisition import parse_ei
from crisp_eml.data.formats.image import parse_image
from crisp_eml.data.formats.parsed import ByteReader, ParsedSample, format_of
from crisp_eml.data.formats.wav import parse_wav, parse_wav_stream

BytesParser = Callable[[bytes, str, "float | None", "str | bytes | None"], ParsedSample]

#: format -> parser of the whole file's bytes (name, frequency_hz and hmac_key passed on where they apply)
BYTES_PARSERS: dict[str, BytesParser] = {
    "csv": lambda data, name, hz, _key: parse_csv(data, name, frequency_hz=hz),
    "wav": lambda data, name, _hz, _key: parse_wav(data, name),
    "image": lambda data, name, _hz, _key: parse_image(data, name),
    "ei-json": lambda data, name, _hz, key: parse_ei(data, name, hmac_key=key, cbor=False),
    "ei-cbor": lambda data, name, _hz, key: parse_ei(data, name, hmac_key=key, cbor=True),
}


def parse_bytes(
    data: bytes, name: str, *, frequency_hz: float | None = None, hmac_key: str | bytes | None = None,
) -> ParsedSample:
    """Parse one file by its extension (``.csv .wav .png .jpg .jpeg .json .cbor``)."""
    return BYTES_PARSERS[format_of(name)](data, name, frequency_hz, hmac_key)


def parse_stream(
    stream: ByteReader, name: str, *, size: int, frequency_hz: float | None = None,
    hmac_key: str | bytes | None = None,
) -> ParsedSample:
    """Parse one file read from ``stream`` (``size`` bytes expected): CSV and WAV are parsed in blocks, in
    bounded memory beside the result; the other formats need the whole file (images, signed messages).

    Reads only forward (no seek), so the caller may hash the bytes as they go by.
    """
    fmt = format_of(name)
    if fmt == "csv":
        return parse_csv_stream(stream, name, frequency_hz=frequency_hz)
    if fmt == "wav":
        return parse_wav_stream(stream, name, size=size)
    return BYTES_PARSERS[fmt](stream.read(), name, frequency_hz, hmac_key)
