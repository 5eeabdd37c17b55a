"""Fuzzing every parser: random bytes and mutated valid files give InputError or a valid sample, never
any other exception."""

from __future__ import annotations

import io
import json

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


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
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
