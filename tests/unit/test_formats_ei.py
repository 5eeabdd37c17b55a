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
