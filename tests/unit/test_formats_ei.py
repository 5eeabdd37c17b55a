"""Edge Impulse acquisition format: JSON and CBOR, signed per the spec, tampering and bad fields rejected."""

from __future__ import annotations

import hashlib
import hmac
import json

import cbor2
import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats import parse_bytes
from crisp_eml.data.formats.ei_acquisition import build_message, encode, parse_ei

KEY = "e3b0c44298fc1c149afbf4c8996fb924"
ZEROS = "0" * 64


def spec_message(alg: str = "HS256") -> dict:  # type: ignore[type-arg]
    return {
        "protected": {"ver": "v1", "alg": alg, "iat": 1564128599},
        "signature": ZEROS,
        "payload": {
            "device_name": "ac:87:a3:0a:2d:1b", "device_type": "DISCO-L475VG-IOT01A", "interval_ms": 10,
            "sensors": [{"name": "accX", "units": "m/s2"}, {"name": "accY", "units": "m/s2"},
                        {"name": "accZ", "units": "m/s2"}],
            "values": [[-9.81, 0.03, 1.21], [-9.83, 0.04, 1.27], [-9.12, 0.03, 1.23], [-9.14, 0.01, 1.25]],
        },
    }


def sign_json_like_the_spec(msg: dict, key: str) -> bytes:  # type: ignore[type-arg]
    """Independent of our encoder: HMAC over json.dumps with 64 zeros, then the hex digest swapped in."""
    body = json.dumps(msg)
    sig = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()
    return json.dumps(dict(msg, signature=sig)).encode()


def sign_cbor_like_the_spec(msg: dict, key: str) -> bytes:  # type: ignore[type-arg]
    body = cbor2.dumps(msg)
    sig = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    signed = cbor2.dumps(dict(msg, signature=sig))
    assert len(signed) == len(body)  # same length: the signature is patched in place
    return signed


def test_signed_json_verifies_and_decodes() -> None:
    p = parse_ei(sign_json_like_the_spec(spec_message(), KEY), "idle.01.json", hmac_key=KEY)
    assert p.frequency_hz == 100.0 and p.array.shape == (4, 3) and p.kind == "timeseries"
    assert p.device_name == "ac:87:a3:0a:2d:1b" and p.device_type == "DISCO-L475VG-IOT01A"
    assert p.metadata["signature"] == "verified" and p.metadata["iat"] == 1564128599
    assert p.array[1].tolist() == np.array([-9.83, 0.04, 1.27], dtype=np.float32).tolist()


def test_signed_cbor_verifies() -> None:
    p = parse_ei(sign_cbor_like_the_spec(spec_message(), KEY), "idle.01.cbor", hmac_key=KEY, cbor=True)
    assert p.array.shape == (4, 3) and p.metadata["signature"] == "verified"


@pytest.mark.parametrize("cbor", [False, True])
def test_tampered_wrong_key_and_missing_signature_rejected(cbor: bool) -> None:
    signer = sign_cbor_like_the_spec if cbor else sign_json_like_the_spec
    good = signer(spec_message(), KEY)
    tampered = good.replace(b"-9.83" if not cbor else cbor2.dumps(-9.83), b"-9.84" if not cbor else cbor2.dumps(-9.84))
    assert tampered != good
    with pytest.raises(InputError, match="HMAC signature does not match"):
        parse_ei(tampered, "t.cbor", hmac_key=KEY, cbor=cbor)
    with pytest.raises(InputError, match="HMAC signature does not match"):
        parse_ei(good, "t.cbor", hmac_key="another-key", cbor=cbor)
    unsigned = cbor2.dumps(spec_message()) if cbor else json.dumps(spec_message()).encode()
    with pytest.raises(InputError, match="missing signature"):
        parse_ei(unsigned, "t.cbor", hmac_key=KEY, cbor=cbor)
    none_alg = cbor2.dumps(spec_message("none")) if cbor else json.dumps(spec_message("none")).encode()
    with pytest.raises(InputError, match="unsigned"):
        parse_ei(none_alg, "t.cbor", hmac_key=KEY, cbor=cbor)
    # without a key: alg none accepted, HS256 accepted but marked unverified
    assert "signature" not in parse_ei(none_alg, "t", cbor=cbor).metadata
    assert parse_ei(tampered, "t", cbor=cbor).metadata["signature"] == "unverified"


@pytest.mark.parametrize("cbor", [False, True])
def test_our_encoder_signs_per_spec(cbor: bool) -> None:
    arr = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    from crisp_eml.core.sample import Sensor

    msg = build_message(arr, (Sensor("a", "g"), Sensor("b", "g")), 62.5)
    data = encode(msg, cbor=cbor, hmac_key=KEY)
    decoded = cbor2.loads(data) if cbor else json.loads(data)
    zero_msg = dict(decoded, signature=ZEROS)
    zeroed = cbor2.dumps(zero_msg) if cbor else json.dumps(zero_msg).encode()
    assert hmac.new(KEY.encode(), zeroed, hashlib.sha256).hexdigest() == decoded["signature"]
    p = parse_bytes(data, "x.cbor" if cbor else "x.json", hmac_key=KEY)
    assert p.array.tobytes() == arr.tobytes() and p.frequency_hz == 62.5


def _mutate(msg: dict, path: str, value: object) -> dict:  # type: ignore[type-arg]
    m = json.loads(json.dumps(msg))
    *parents, last = path.split(".")
    d = m
    for k in parents:
        d = d[k]
    if value is _DELETE:
        del d[last]
    else:
        d[last] = value
    return m


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("payload.interval_ms", 0, "absurd sampling interval"),
        ("payload.interval_ms", -1, "absurd sampling interval"),
        ("payload.interval_ms", 4_000_000, "more than one hour"),
        ("payload.interval_ms", "10", "must be a number"),
        ("payload.interval_ms", _DELETE, "must be a number"),
        ("payload.sensors", [], "sensors"),
        ("payload.sensors", _DELETE, "sensors"),
        ("payload.values", [[1, 2]], "row 0 has 2 values but there are 3 sensors"),
        ("payload.values", [[1, 2, "x"]], "non-number"),
        ("payload.values", _DELETE, "values"),
        ("payload", _DELETE, "payload"),
        ("protected", _DELETE, "protected"),
        ("protected.alg", "RS256", "unsupported alg"),
        ("signature", _DELETE, "signature"),
        ("payload.device_type", 5, "must be a string"),
    ],
)
def test_bad_fields(path: str, value: object, match: str) -> None:
    data = json.dumps(_mutate(spec_message("none"), path, value)).encode()
    with pytest.raises(InputError, match=match) as info:
        parse_ei(data, "walk.2.json")
    assert str(info.value).startswith("walk.2.json: ")


def test_bad_encodings() -> None:
    with pytest.raises(InputError, match="bad JSON"):
        parse_ei(b'{"protected": ', "a.json")
    with pytest.raises(InputError, match="bad CBOR"):
        parse_ei(b"\xbf\x61", "a.cbor", cbor=True)
    with pytest.raises(InputError, match="must be an object"):
        parse_ei(b"[1, 2]", "a.json")


def test_single_sensor_flat_values_and_wav_units_mean_audio() -> None:
    msg = spec_message("none")
    msg["payload"].update(interval_ms=0.0625, sensors=[{"name": "audio", "units": "wav"}], values=[1, 2, 3])
    p = parse_ei(json.dumps(msg).encode(), "yes.json")
    assert p.kind == "audio" and p.frequency_hz == 16000 and p.array.shape == (3, 1)


def _cbor_or_json(msg: dict, cbor: bool) -> bytes:  # type: ignore[type-arg]
    return cbor2.dumps(msg) if cbor else json.dumps(msg).encode()


@pytest.mark.parametrize("cbor", [False, True])
@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("payload.interval_ms", 10**400, "absurd sampling interval"),  # was OverflowError, exit 70
        ("payload.interval_ms", -(10**400), "absurd sampling interval"),
        ("payload.interval_ms", 1e-300, "faster than 1e\\+07 Hz"),  # was stored as 1e303 Hz
        ("payload.interval_ms", float("nan"), "absurd sampling interval"),
        ("payload.values", [[1, 2, 10**400]], "values are not numbers"),
        ("payload.values", [[1, 2, [10**400]]], "non-number"),
        ("payload.values", [[1, 2, 1e39]], "row 0 value 1e\\+39 is out of range"),
        ("payload.values", [[1, float("inf"), 3]], "row 0 value inf is out of range"),
        ("payload.sensors", [{"name": f"s{i}"} for i in range(65)], "65 sensors, more than the 64"),
        ("payload.sensors", [{"name": "a\x00"}, {"name": "b"}, {"name": "c"}], "NUL"),
        ("payload.device_name", "dev\x00", "NUL"),
    ],
)
def test_absurd_values_are_input_errors(path: str, value: object, match: str, cbor: bool) -> None:
    name = "poison.cbor" if cbor else "poison.json"
    with pytest.raises(InputError, match=match) as info:
        parse_ei(_cbor_or_json(_mutate(spec_message("none"), path, value), cbor), name, cbor=cbor)
    assert str(info.value).startswith(f"{name}: field 'payload.")


def test_cbor_bignum_beyond_str_digit_limit_is_an_input_error() -> None:
    """An int CBOR can carry but repr() refuses (> 4300 digits) must not crash the error message itself."""
    msg = _mutate(spec_message("none"), "payload.interval_ms", 10**5000)
    with pytest.raises(InputError, match="absurd sampling interval <int>"):
        parse_ei(cbor2.dumps(msg), "big.cbor", cbor=True)
    msg = _mutate(spec_message("none"), "payload.values", [[1, 2, [10**5000]]])
    with pytest.raises(InputError, match="non-number <list>"):
        parse_ei(cbor2.dumps(msg), "big.cbor", cbor=True)


def test_metadata_and_iat_keep_only_storable_numbers() -> None:
    msg = spec_message("none")
    msg["protected"]["iat"] = 10**30
    msg["payload"]["metadata"] = {"nan": float("nan"), "big": 10**30, "ok": 3, "nested": [10**5000]}
    p = parse_ei(cbor2.dumps(msg), "m.cbor", cbor=True)
    assert p.metadata == {"nan": "nan", "big": str(10**30), "ok": 3, "nested": "<list>"}
    with pytest.raises(InputError, match="NUL"):
        msg["payload"]["metadata"] = {"k\x00": 1}
        parse_ei(cbor2.dumps(msg), "m.cbor", cbor=True)


def _refusal(msg: object, name: str = "walk.json", key: str | None = None, cbor: bool = False) -> InputError:
    data = cbor2.dumps(msg) if cbor else json.dumps(msg).encode()
    with pytest.raises(InputError) as info:
        parse_ei(data, name, hmac_key=key, cbor=cbor)
    return info.value


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("protected", _DELETE, "protected", "missing or invalid 'protected' object"),
        ("protected.alg", "RS256", "protected.alg", "unsupported alg 'RS256' (expected 'HS256' or 'none')"),
        ("signature", _DELETE, "signature", "missing field"),
        ("payload", _DELETE, "payload", "missing or invalid 'payload' object"),
        ("payload.metadata", [1], "payload.metadata", "metadata must be an object with string keys"),
        ("payload.metadata", "abc", "payload.metadata", "metadata must be an object with string keys"),
        ("payload.metadata", {"k\x00": 1}, "payload.metadata", "text with a NUL character"),
        ("payload.metadata", {"k": "a\x00"}, "payload.metadata", "text with a NUL character"),
        ("payload.sensors", [], "payload.sensors", "missing or empty sensors list"),
        ("payload.sensors", "abc", "payload.sensors", "missing or empty sensors list"),
        ("payload.sensors", [{"name": ""}], "payload.sensors", "sensor 0 needs a non-empty 'name'"),
        ("payload.sensors", ["x"], "payload.sensors", "sensor 0 needs a non-empty 'name'"),
        ("payload.sensors", [{"name": "a"}, {"name": 5}], "payload.sensors", "sensor 1 needs a non-empty 'name'"),
        ("payload.sensors", [{"name": "a", "units": 5}], "payload.sensors", "sensor 0 units must be a string"),
        ("payload.values", "abc", "payload.values", "missing or empty values list"),
        ("payload.values", [], "payload.values", "missing or empty values list"),
        ("payload.values", [5], "payload.values", "row 0 has 1 values but there are 3 sensors"),
        ("payload.values", [[1, 2, 3], [1, 2]], "payload.values", "row 1 has 2 values but there are 3 sensors"),
        ("payload.values", [[1, 2, 1e39]], "payload.values", "row 0 value 1e+39 is out of range (values must be "
                                                             "finite float32 numbers; NaN marks a missing value)"),
        ("payload.device_type", 5, "payload.device_type", "must be a string, got int"),
        ("payload.device_name", [], "payload.device_name", "must be a string, got list"),
        ("payload.device_name", "a\x00", "payload.device_name", "text with a NUL character"),
    ],
)
def test_refusals_name_file_field_and_reason(path: str, value: object, field: str, message: str) -> None:
    err = _refusal(_mutate(spec_message("none"), path, value))
    assert err.field == field and str(err) == f"walk.json: field '{field}': {message}"


def test_message_level_refusals_are_exact() -> None:
    with pytest.raises(InputError) as info:
        parse_ei(b"[1, 2]", "a.json")
    assert str(info.value) == "a.json: the message must be an object with protected, signature and payload"
    with pytest.raises(InputError) as info:
        parse_ei(b'{"protected": ', "a.json")
    assert str(info.value) == "a.json: bad JSON: Expecting value: line 1 column 15 (char 14)"
    with pytest.raises(InputError) as info:
        parse_ei(b"\xbf\x61", "a.cbor", cbor=True)
    assert str(info.value).startswith("a.cbor: bad CBOR: CBORDecodeEOF: premature end of stream")
    err = _refusal(spec_message("none"), key=KEY)
    assert str(err) == "walk.json: field 'protected.alg': message is unsigned (alg 'none') but an HMAC key was given"
    err = _refusal(spec_message(), key=KEY)
    assert str(err) == "walk.json: field 'signature': missing signature (an HMAC key was given)"
    for bad in ("", 5, None):
        assert "missing signature" in str(_refusal(dict(spec_message(), signature=bad), key=KEY))
    with pytest.raises(InputError) as info:
        parse_ei(sign_json_like_the_spec(spec_message(), KEY), "walk.json", hmac_key="other")
    assert str(info.value) == ("walk.json: field 'signature': HMAC signature does not match (wrong key or "
                               "tampered data)")
    # a non-ASCII "signature" is a mismatch, not a crash
    assert "does not match" in str(_refusal(dict(spec_message(), signature="\u00e9" * 64), key=KEY))
    # CBOR can carry non-string metadata keys
    msg = spec_message("none")
    msg["payload"]["metadata"] = {1: "x"}
    assert str(_refusal(msg, "m.cbor", cbor=True)) == (
        "m.cbor: field 'payload.metadata': metadata must be an object with string keys")


def _signed_body(msg: dict, key: str, dumps: object) -> bytes:  # type: ignore[type-arg]
    """HMAC over ``dumps`` of the zero-signature message, the digest then written in place (as a device does)."""
    body: bytes = dumps(msg).encode()  # type: ignore[operator]
    sig = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return body.replace(b'"' + ZEROS.encode() + b'"', b'"' + sig.encode() + b'"')


@pytest.mark.parametrize("dumps", [
    lambda m: json.dumps(m, indent=2),  # only the in-place zeroing reproduces this body
    lambda m: json.dumps(m, separators=(",", ":")),
    lambda m: json.dumps(m, sort_keys=True, indent=1),
])
def test_signatures_over_any_json_layout_verify_in_place(dumps: object) -> None:
    p = parse_ei(_signed_body(spec_message(), KEY, dumps), "s.json", hmac_key=KEY)
    assert p.metadata["signature"] == "verified"


@pytest.mark.parametrize("separators", [None, (",", ":")])
def test_a_reformatted_message_verifies_against_the_common_serializations(separators: tuple[str, str] | None) -> None:
    """Signed over json.dumps (default or compact) of the zero-signature message, then re-indented on the way."""
    msg = spec_message()
    sig = hmac.new(KEY.encode(), json.dumps(msg, separators=separators).encode(), hashlib.sha256).hexdigest()
    sent = json.dumps(dict(msg, signature=sig), indent=3).encode()
    assert parse_ei(sent, "s.json", hmac_key=KEY).metadata["signature"] == "verified"
    # the signature itself written with an escape: not found in place, the re-serializations still match
    escaped = sent.replace(f'"{sig}"'.encode(), b'"\\u00' + sig[:1].encode().hex().encode() + sig[1:].encode() + b'"')
    assert escaped != sent and parse_ei(escaped, "s.json", hmac_key=KEY).metadata["signature"] == "verified"
    with pytest.raises(InputError, match="does not match"):
        parse_ei(sent.replace(b"-9.83", b"-9.84"), "s.json", hmac_key=KEY)


def test_sensors_units_and_single_sensor_rows() -> None:
    from crisp_eml.core.sample import Sensor

    msg = spec_message("none")
    msg["payload"]["sensors"] = [{"name": "a", "units": "N/A"}, {"name": "b", "units": ""}, {"name": "c"}]
    p = parse_ei(json.dumps(msg).encode(), "u.json")
    assert p.sensors == (Sensor("a", None), Sensor("b", None), Sensor("c", None))
    msg = spec_message("none")
    assert parse_ei(json.dumps(msg).encode(), "u.json").sensors == (
        Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))
    msg["payload"].update(sensors=[{"name": "t", "units": "C"}], values=[[1], [2.5]])  # one sensor, rows as lists
    assert parse_ei(json.dumps(msg).encode(), "u.json").array[:, 0].tolist() == [1.0, 2.5]


def test_metadata_values_kept_or_written_as_text() -> None:
    msg = spec_message("none")
    msg["payload"]["metadata"] = {
        "s": "abc", "n": None, "b": True, "f": 1.5, "inf": float("inf"), "ninf": float("-inf"),
        "max": 2**63 - 1, "min": -(2**63), "over": 2**63, "under": -(2**63) - 1,
        "list": list(range(30)), "k1000": ["x" * 996], "k1001": ["x" * 997],
    }
    msg["protected"]["iat"] = 2**63 - 1
    p = parse_ei(cbor2.dumps(msg), "m.cbor", cbor=True)
    assert p.metadata["iat"] == 2**63 - 1
    m = p.metadata
    assert (m["s"], m["n"], m["b"], m["f"], m["inf"], m["ninf"]) == ("abc", None, True, 1.5, "inf", "-inf")
    assert (m["max"], m["min"], m["over"], m["under"]) == (2**63 - 1, -(2**63), str(2**63), str(-(2**63) - 1))
    assert m["list"] == repr(list(range(30))) and m["k1000"] == repr(["x" * 996])  # up to 1000 characters whole
    assert m["k1001"] == repr(["x" * 997])[:500] + "...(1001 characters)"
    msg["protected"]["iat"] = -(2**63) - 1
    assert "iat" not in parse_ei(cbor2.dumps(msg), "m.cbor", cbor=True).metadata


def test_float32_overflow_raises_no_numpy_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="row 0 value 1e\\+39 is out of range"):
            parse_ei(json.dumps(_mutate(spec_message("none"), "payload.values", [[1, 2, 1e39]])).encode(), "o.json")


def test_build_message_shape() -> None:
    from crisp_eml.core.sample import Sensor

    arr = np.array([[0.1, 2.0]])  # float64: written as the float32 values a sample holds
    msg = build_message(arr, [Sensor("a", "g"), Sensor("b")], 50.0, device_name="dev", metadata={"k": 1}, iat=7)
    f32 = float(np.float32(0.1))
    assert msg == {
        "protected": {"ver": "v1", "alg": "none", "iat": 7}, "signature": ZEROS,
        "payload": {"device_type": "crisp-eml", "device_name": "dev", "interval_ms": 20.0,
                    "sensors": [{"name": "a", "units": "g"}, {"name": "b", "units": "N/A"}],
                    "values": [[f32, 2.0]], "metadata": {"k": 1}}}
    plain = build_message(arr, [Sensor("a"), Sensor("b")], 50.0, signed=True)
    assert plain["protected"] == {"ver": "v1", "alg": "HS256"} and "device_name" not in plain["payload"]
    assert "metadata" not in plain["payload"]


def test_encode_defaults_and_signing_keeps_the_rest() -> None:
    from crisp_eml.core.sample import Sensor

    arr = np.ones((2, 1), np.float32)
    msg = build_message(arr, [Sensor("a")], 10.0, iat=9, metadata={"note": ZEROS})
    assert json.loads(encode(msg)) == msg  # JSON unless asked for CBOR
    signed = encode(dict(msg, signature="ab" * 32), hmac_key=KEY)  # a stale signature is replaced
    decoded = json.loads(signed)
    assert decoded["protected"] == {"ver": "v1", "alg": "HS256", "iat": 9}
    assert decoded["payload"]["metadata"] == {"note": ZEROS}  # only the signature field is overwritten
    assert parse_ei(signed, "e.json", hmac_key=KEY).metadata["signature"] == "verified"
    cmsg = build_message(arr, [Sensor("a")], 10.0, metadata={"signature": ZEROS})
    cdecoded = cbor2.loads(encode(cmsg, cbor=True, hmac_key=KEY))
    assert cdecoded["payload"]["metadata"] == {"signature": ZEROS} and cdecoded["signature"] != ZEROS


def test_bytes_key_and_overflowing_values_message() -> None:
    p = parse_ei(sign_json_like_the_spec(spec_message(), KEY), "k.json", hmac_key=KEY.encode())
    assert p.metadata["signature"] == "verified"
    err = _refusal(_mutate(spec_message("none"), "payload.values", [[1, 2, 10**400]]), "o.cbor", cbor=True)
    assert str(err) == "o.cbor: field 'payload.values': values are not numbers: int too large to convert to float"
