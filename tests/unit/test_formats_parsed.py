"""Rules shared by every parser (frequency, interval, axes, finite values, message text) and the by-extension
dispatchers over bytes and over a forward-only stream."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats import parse_bytes, parse_stream, suffix_of
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.data.formats.image import write_png
from crisp_eml.data.formats.parsed import (
    check_axes,
    check_frequency,
    check_interval_ms,
    first_infinite,
    memory_estimate,
    short_repr,
    tidy_frequency,
)
from crisp_eml.data.formats.wav import write_wav

ARR = np.arange(12, dtype=np.float32).reshape(6, 2) / 8
SENSORS = (Sensor("a", "g"), Sensor("b"))


@pytest.mark.parametrize(("name", "suffix"), [
    ("idle.01.CSV", ".csv"), ("dir/clip.Wav", ".wav"), ("dir.v2/noext", ""), ("dir.v2\\noext", ""),
    ("C:\\data\\x.JPEG", ".jpeg"), ("noext", ""), ("a.tar.gz", ".gz"), ("trailing.", "."),
])
def test_suffix_of(name: str, suffix: str) -> None:
    assert suffix_of(name) == suffix


def test_tidy_frequency_undoes_interval_rounding_only() -> None:
    assert tidy_frequency(1000.0 / 16) == 62.5
    assert tidy_frequency(1000.0 / (1000.0 / 44.1)) == 44.1
    assert tidy_frequency(1000.0 / 3) == 333.333333  # 6 digits are within 1e-9 of the value
    assert tidy_frequency(1000.0 / 7) == 142.857142857  # 6 digits are not; 9 digits are
    assert tidy_frequency(1 / 3000) == 1 / 3000  # neither: left as it is (rounding would give 0.000333)
    assert tidy_frequency(1e-10) == 1e-10  # rounds to 0 at 6 and 9 digits: never returns 0
    assert isinstance(tidy_frequency(50), float) and isinstance(tidy_frequency(1 / 3000), float)


@pytest.mark.parametrize(("value", "message"), [
    ("10", "interval must be a number, got str"),
    (None, "interval must be a number, got NoneType"),
    (True, "interval must be a number, got bool"),
    (0, "absurd sampling interval 0 ms (must be > 0 and finite)"),
    (-1.5, "absurd sampling interval -1.5 ms (must be > 0 and finite)"),
    (float("nan"), "absurd sampling interval nan ms (must be > 0 and finite)"),
    (float("inf"), "absurd sampling interval inf ms (must be > 0 and finite)"),
    (10**400, "absurd sampling interval 10000000000000000000...(401 characters) ms (must be > 0 and finite)"),
    (3_600_001, "absurd sampling interval 3.6e+06 ms (more than one hour)"),
    (9.9e-5, "absurd sampling interval 9.9e-05 ms (faster than 1e+07 Hz)"),
])
def test_check_interval_ms_refusals_name_the_field(value: object, message: str) -> None:
    with pytest.raises(InputError) as exc:
        check_interval_ms(value, "x.json", "payload.interval_ms")
    assert str(exc.value) == f"x.json: field 'payload.interval_ms': {message}"
    with pytest.raises(InputError) as exc:
        check_interval_ms(value, "x.json")
    assert exc.value.field == "interval_ms"  # the default field name


def test_check_interval_ms_bounds_are_inclusive() -> None:
    assert check_interval_ms(3_600_000, "x") == 3_600_000.0
    assert check_interval_ms(1e-4, "x") == 1e-4
    assert isinstance(check_interval_ms(10, "x"), float)


@pytest.mark.parametrize(("hz", "message"), [
    (0.0, "absurd frequency 0.0 Hz (must be > 0 and finite)"),
    (-5.0, "absurd frequency -5.0 Hz (must be > 0 and finite)"),
    (float("nan"), "absurd frequency nan Hz (must be > 0 and finite)"),
    (float("inf"), "absurd frequency inf Hz (must be > 0 and finite)"),
    (1.5e7, "absurd frequency 1.5e+07 Hz (more than 1e+07 Hz)"),
    (1e-4, "absurd sampling interval 1e+07 ms (more than one hour)"),
])
def test_check_frequency_refusals(hz: float, message: str) -> None:
    with pytest.raises(InputError) as exc:
        check_frequency(hz, "x.csv")
    assert str(exc.value) == f"x.csv: field 'frequency': {message}"


def test_check_frequency_accepts_the_bounds() -> None:
    assert check_frequency(None, "x") is None
    assert check_frequency(1e7, "x") == 1e7
    assert check_frequency(1000.0 / 3_600_000, "x") == 1000.0 / 3_600_000  # one sample an hour
    assert isinstance(check_frequency(50, "x"), float)  # type: ignore[arg-type]


def test_check_axes_limit() -> None:
    assert check_axes(64, "x", "f", "sensors") == 64
    with pytest.raises(InputError) as exc:
        check_axes(65, "x.json", "payload.sensors", "sensors")
    assert str(exc.value) == "x.json: field 'payload.sensors': 65 sensors, more than the 64 a sample may have"


def test_first_infinite_ignores_nan() -> None:
    assert first_infinite(np.array([[1.0, np.nan], [2.0, 3.0]])) is None
    assert first_infinite(np.array([[1.0, np.nan], [np.inf, -np.inf]])) == (1, 0)
    assert first_infinite(np.array([[1.0, -np.inf], [np.inf, 0.0]])) == (0, 1)
    assert first_infinite(np.array([0.0, 0.0, -np.inf])) == (2,)


def test_short_repr() -> None:
    assert short_repr("abc") == "'abc'"
    assert short_repr("x" * 38) == repr("x" * 38)  # 40 characters: kept whole
    assert short_repr("x" * 39) == "'xxxxxxxxxxxxxxxxxxx...(41 characters)"
    assert short_repr(list(range(5)), 10) == "[0, 1...(15 characters)"
    assert short_repr(10**5000) == "<int>"
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    assert short_repr(nested) == "<list>"


def _files() -> dict[str, bytes]:
    return {
        "s.csv": write_csv(ARR, SENSORS, 50.0), "s.wav": write_wav(ARR, 8000), "s.wave": write_wav(ARR, 8000),
        "s.png": write_png(np.zeros((3, 4, 3), np.uint8)), "s.json": encode(build_message(ARR, SENSORS, 50.0)),
        "s.cbor": encode(build_message(ARR, SENSORS, 50.0), cbor=True),
    }


@pytest.mark.parametrize("name", ["s.csv", "s.wav", "s.wave", "s.png", "s.json", "s.cbor"])
def test_dispatch_by_extension_bytes_and_stream_agree(name: str) -> None:
    data = _files()[name]
    a = parse_bytes(data, name)
    b = parse_stream(io.BytesIO(data), name, size=len(data))
    assert a.kind == b.kind == ("image" if name.endswith(".png") else "audio" if ".wav" in name else "timeseries")
    assert a.array.tobytes() == b.array.tobytes() and a.sensors == b.sensors and a.frequency_hz == b.frequency_hz


def test_dispatch_passes_frequency_and_key_on() -> None:
    csv = b"a,b\n1,2\n3,4\n"
    assert parse_bytes(csv, "x.csv", frequency_hz=25.0).frequency_hz == 25.0
    assert parse_stream(io.BytesIO(csv), "x.csv", size=len(csv), frequency_hz=25.0).frequency_hz == 25.0
    signed = encode(build_message(ARR, SENSORS, 50.0), hmac_key="k")
    for data, name in ((signed, "x.json"), (encode(build_message(ARR, SENSORS, 50.0), cbor=True, hmac_key="k"),
                                           "x.cbor")):
        assert parse_bytes(data, name, hmac_key="k").metadata["signature"] == "verified"
        assert parse_stream(io.BytesIO(data), name, size=len(data), hmac_key="k").metadata["signature"] == "verified"
        with pytest.raises(InputError, match="HMAC signature does not match"):
            parse_stream(io.BytesIO(data), name, size=len(data), hmac_key="other")
    # a WAV whose size is a streaming placeholder reads to the size the caller gives
    wav = bytearray(write_wav(ARR, 8000))
    wav[wav.index(b"data") + 4:wav.index(b"data") + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    assert parse_stream(io.BytesIO(bytes(wav)), "x.wav", size=len(wav)).array.shape == (6, 2)
    assert parse_stream(io.BytesIO(bytes(wav)), "x.wav", size=len(wav) - 8).array.shape == (5, 2)


def test_unsupported_extension_is_named() -> None:
    expected = ".cbor, .csv, .jpeg, .jpg, .json, .png, .wav, .wave"
    with pytest.raises(InputError) as exc:
        parse_bytes(b"", "notes.txt")
    assert str(exc.value) == f"notes.txt: unsupported file type '.txt'; expected one of {expected}"
    with pytest.raises(InputError) as exc:
        parse_stream(io.BytesIO(b""), "README", size=0)
    assert str(exc.value) == f"README: unsupported file type '(no extension)'; expected one of {expected}"


def test_memory_estimate_by_format() -> None:
    assert memory_estimate("a.csv", 1000) == 2000
    assert memory_estimate("a.WAV", 1000) == 5000
    assert memory_estimate("a.wave", 1000) == 5000
    assert memory_estimate("a.png", 1000) == 16000
    assert memory_estimate("a.json", 1000) == 16000
    assert memory_estimate("a.cbor", 1001) == 16016
    assert memory_estimate("a.txt", 1000) == 2000  # unknown: like CSV
    assert isinstance(memory_estimate("a.csv", 3), int)


def test_parsed_sample_defaults() -> None:
    p = parse_bytes(b"a\n1\n", "x.csv", frequency_hz=1.0)
    assert p.metadata == {} and p.device_name is None and p.device_type is None
    assert json.loads(json.dumps(p.metadata)) == {} and not math.isnan(p.frequency_hz or 0)


class _BlocksOnly(io.RawIOBase):
    """A stream that refuses to be read whole: what the block parsers (CSV, WAV) must never ask for."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, size: int | None = -1, /) -> bytes:
        assert size is not None and size >= 0, "read the whole file at once"
        return self._buf.read(size)


def test_csv_and_wav_streams_are_read_in_blocks() -> None:
    for name in ("s.csv", "s.wav"):
        data = _files()[name]
        assert parse_stream(_BlocksOnly(data), name, size=len(data)).array.shape == (6, 2)


@pytest.mark.parametrize(("name", "data"), [
    ("bad.csv", b""), ("bad.wav", b"RIFF"), ("bad.png", b"x"), ("bad.json", b"{"), ("bad.cbor", b"\xbf"),
])
def test_every_dispatched_refusal_names_the_file(name: str, data: bytes) -> None:
    with pytest.raises(InputError) as exc:
        parse_bytes(data, name)
    assert str(exc.value).startswith(f"{name}: ")
    with pytest.raises(InputError) as exc:
        parse_stream(io.BytesIO(data), name, size=len(data))
    assert str(exc.value).startswith(f"{name}: ")


def test_suffix_ignores_dots_in_any_folder() -> None:
    assert suffix_of("x/dir.v2/noext") == "" and suffix_of("a.b/c.d/e.CSV") == ".csv"
