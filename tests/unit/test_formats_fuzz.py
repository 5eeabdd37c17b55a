"""Fuzzing every parser: random bytes and mutated valid files give InputError or a valid sample, never
any other exception."""

from __future__ import annotations

import io
import json
import struct

import cbor2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats import ParsedSample, parse_bytes
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.formats.ei_acquisition import build_message, encode
from crisp_eml.data.formats.wav import write_wav

ARR = np.random.default_rng(3).normal(size=(12, 2)).astype(np.float32)
SENSORS = (Sensor("a", "g"), Sensor("b"))


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((6, 5, 3), np.uint8) + 7).save(buf, format="PNG")
    return buf.getvalue()


def _jpg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((6, 5, 3), np.uint8) + 7).save(buf, format="JPEG")
    return buf.getvalue()


VALID = {
    "x.csv": write_csv(ARR, SENSORS, 50.0),
    "x.wav": write_wav(ARR / 8, 8000),
    "x.png": _png(),
    "x.jpg": _jpg(),
    "x.json": encode(build_message(ARR, SENSORS, 50.0), hmac_key="k"),
    "x.cbor": encode(build_message(ARR, SENSORS, 50.0), cbor=True, hmac_key="k"),
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(data: bytes, name: str, key: str | None = None) -> None:
    try:
        p = parse_bytes(data, name, hmac_key=key)
    except InputError as exc:
        assert name in str(exc)
        return
    except Exception as exc:  # noqa: BLE001 - the property under test: nothing but InputError escapes
        raise AssertionError(f"{name}: {type(exc).__name__} escaped the parser: {exc}") from exc
    assert isinstance(p, ParsedSample)
    assert p.array.ndim in (2, 3) and p.array.shape[0] >= 1
    assert p.array.dtype in (np.float32, np.uint8)
    if p.kind != "image":
        assert p.array.shape[1] == len(p.sensors)
        assert p.frequency_hz is not None and p.frequency_hz > 0


def test_valid_seeds_parse() -> None:
    for name, data in VALID.items():
        assert parse_bytes(data, name, hmac_key="k" if name.endswith(("json", "cbor")) else None).array.size


@FUZZ
@given(name=st.sampled_from(sorted(VALID)), data=st.binary(max_size=600))
def test_random_bytes(name: str, data: bytes) -> None:
    _check(data, name)


@FUZZ
@given(name=st.sampled_from(sorted(VALID)), edits=st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6), cut=st.integers(0, 10_000),
    key=st.sampled_from([None, "k"]))
def test_mutated_valid_files(name: str, edits: list[tuple[int, int]], cut: int, key: str | None) -> None:
    data = bytearray(VALID[name])
    for pos, val in edits:
        data[pos % len(data)] = val
    if cut % 3 == 0:
        data = data[: cut % (len(data) + 1)]
    _check(bytes(data), name, key)


# numbers at and beyond the ends of float64/float32 and of a sane sampling rate (10**400 once crashed a batch)
EXTREMES = st.sampled_from([10**400, -(10**400), 2**64, 2**63, 1e-300, 5e-324, 1e308, 1e39, -1e39, float("inf"),
                            float("-inf"), float("nan"), 1e-4, 3_600_000.5])


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8) | EXTREMES,
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20),
       st.sampled_from(["protected", "signature", "payload", "payload.values", "payload.sensors",
                        "payload.interval_ms", "payload.metadata", "payload.device_name"]))
def test_structurally_wrong_messages(value: object, where: str) -> None:
    msg = json.loads(encode(build_message(ARR, SENSORS, 50.0)))
    d = msg
    *parents, last = where.split(".")
    for k in parents:
        d = d[k]
    d[last] = value
    _check(json.dumps(msg).encode(), "x.json")
    _check(cbor2.dumps(msg), "x.cbor")


@FUZZ
@given(st.lists(st.lists(st.sampled_from(["1", "-2.5", "nan", "", "x", "1e400", " 3 ", '"4"']), min_size=1,
                         max_size=4), min_size=1, max_size=6),
       st.sampled_from(["timestamp,a,b", "a,b", "t,a", "a"]), st.booleans())
def test_csv_grammar(rows: list[list[str]], header: str, newline: bool) -> None:
    text = header + "\n" + "\n".join(",".join(r) for r in rows) + ("\n" if newline else "")
    try:
        p = parse_bytes(text.encode(), "x.csv", frequency_hz=10.0)
    except InputError as exc:
        assert "x.csv" in str(exc)
        return
    assert p.array.shape[1] == len(p.sensors)


@FUZZ
@given(st.lists(st.sampled_from(["0", "10", "20", "1", "-2.5", "nan", "inf", "1e39", "1e400", "", "x", " 3 ", '"4"']),
                min_size=0, max_size=24),
       st.sampled_from(["\n", "\r\n", "\r"]), st.sampled_from(["timestamp,a,b", "a,b", "t,a", "a"]),
       st.integers(1, 9), st.booleans(), st.integers(0, 3))
def test_csv_blocks_parse_like_the_whole_file(cells: list[str], eol: str, header: str, chunk: int, end: bool,
                                              blanks: int) -> None:
    """Any split into blocks gives the same sample or the same error (line numbers included) as one block."""
    from crisp_eml.data.formats.csv_series import parse_csv_stream

    width = header.count(",") + 1
    rows = [",".join(cells[i:i + width]) for i in range(0, len(cells), width)]
    if blanks and rows:
        rows.insert(blanks % len(rows), "")
    text = header + eol + eol.join(rows) + (eol if end else "")

    def outcome(block: int) -> object:
        try:
            p = parse_csv_stream(io.BytesIO(text.encode()), "g.csv", frequency_hz=10.0 if "," not in header[:2] and
                                 not header.startswith(("timestamp", "t,")) else None, chunk_bytes=block)
        except InputError as exc:
            return str(exc)
        assert np.all(~np.isinf(p.array)), "an infinite value was stored"
        return (p.array.tobytes(), p.array.shape, p.frequency_hz)

    assert outcome(chunk) == outcome(1 << 20)


def _wav(tag: int, channels: int, rate: int, block_align: int, bits: int, declared: int, body: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * max(block_align, 1)) & 0xFFFFFFFF, block_align, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", declared) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@FUZZ
@given(tag=st.sampled_from([1, 3, 2, 0xFFFE]), channels=st.integers(0, 0xFFFF),
       rate=st.integers(0, 0xFFFFFFFF), bits=st.sampled_from([0, 8, 12, 16, 24, 32, 64]),
       align=st.integers(0, 0xFFFF), declared=st.sampled_from([0, 1, 7, 64, 0xFFFFFFFF, 0x7FFFF000, 2**31]),
       body=st.binary(max_size=96))
def test_wav_header_fields(tag: int, channels: int, rate: int, bits: int, align: int, declared: int,
                           body: bytes) -> None:
    data = _wav(tag, channels, rate, align, bits, declared, body)
    _check(data, "h.wav")
    try:
        p = parse_bytes(data, "h.wav")
    except InputError:
        return
    assert 1 <= p.array.shape[1] <= 64 and p.frequency_hz is not None and p.frequency_hz <= 10_000_000
    assert not np.isinf(p.array).any()
