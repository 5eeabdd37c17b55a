"""Edge Impulse Data Acquisition Format (JSON and CBOR), with HMAC-SHA256 signatures.

A message is ``{"protected": {"ver": "v1", "alg": "HS256"|"none", "iat": ...}, "signature": hex,
"payload": {"device_name", "device_type", "interval_ms", "sensors": [{"name", "units"}], "values"}}``.
The signature is HMAC-SHA256 (hex) over the whole encoded message as it was when the ``signature``
field held 64 ``'0'`` characters; the signer then overwrites those characters in place. So we verify
by putting the zeros back into the received bytes at the signature's position and recomputing.

Rules here: ``alg: none`` is accepted without a key. With a key, the message must be ``HS256`` and its
signature must match (constant-time compare); a wrong or missing signature is rejected. ``HS256``
without a key is accepted unverified (``metadata.signature = "unverified"``). Units ``wav`` on every
sensor mark the sample as audio. crisp-eml extension: an optional ``payload.metadata`` object of
string keys is carried into the sample's metadata (Edge Impulse ignores unknown fields).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.parsed import (
    ParsedSample,
    check_axes,
    check_interval_ms,
    first_infinite,
    short_repr,
    tidy_frequency,
)

ZERO_SIGNATURE = "0" * 64


class SignedOnly(str):
    """An HMAC key that checks signed (``HS256``) messages and lets unsigned (``alg: none``) ones through
    unverified, as Edge Impulse's ingestion service does; a plain key requires every message to be signed."""


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def _decode(data: bytes, name: str, cbor: bool) -> Any:
    if cbor:
        import cbor2

        try:
            return cbor2.loads(data)
        except Exception as exc:  # noqa: BLE001 - cbor2 raises several types on corrupt input
            raise InputError(f"bad CBOR: {type(exc).__name__}: {str(exc)[:120]}", source=name) from exc
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"bad JSON: {str(exc)[:160]}", source=name) from exc


def _zeroed(data: bytes, signature: str, cbor: bool) -> bytes | None:
    """The received bytes with the signature's characters replaced by zeros (None if not found once)."""
    sig = signature.encode("ascii", "replace")
    if cbor:
        import cbor2

        needle = cbor2.dumps("signature") + cbor2.dumps(signature)
        zero = cbor2.dumps("signature") + cbor2.dumps(ZERO_SIGNATURE)
    else:
        needle, zero = b'"' + sig + b'"', b'"' + ZERO_SIGNATURE.encode() + b'"'
        if len(sig) != 64:
            return None
    if data.count(needle) != 1:
        return None
    return data.replace(needle, zero)


def verify_signature(data: bytes, message: dict[str, Any], key: str | bytes, name: str, cbor: bool) -> None:
    signature = message.get("signature")
    if not isinstance(signature, str) or not signature or signature == ZERO_SIGNATURE:
        raise InputError("missing signature (an HMAC key was given)", source=name, field="signature")
    candidates = [_zeroed(data, signature, cbor)]
    if not cbor:  # also accept the common re-serializations of the zero-signature message
        zero_msg = dict(message, signature=ZERO_SIGNATURE)
        candidates += [json.dumps(zero_msg).encode(), json.dumps(zero_msg, separators=(",", ":")).encode()]
    for body in candidates:
        if body is None:
            continue
        expected = hmac.new(_key_bytes(key), body, hashlib.sha256).hexdigest()
        # compare_digest refuses non-ASCII text (TypeError): such a signature simply does not match
        if signature.isascii() and hmac.compare_digest(expected, signature.lower()):
            return
    raise InputError("HMAC signature does not match (wrong key or tampered data)", source=name, field="signature")


def parse_ei(data: bytes, name: str, *, hmac_key: str | bytes | None = None, cbor: bool = False) -> ParsedSample:
    msg = _decode(data, name, cbor)
    if not isinstance(msg, dict):
        raise InputError("the message must be an object with protected, signature and payload", source=name)
    prot = msg.get("protected")
    if not isinstance(prot, dict):
        raise InputError("missing or invalid 'protected' object", source=name, field="protected")
    alg = prot.get("alg")
    if alg not in ("HS256", "none"):
        raise InputError(f"unsupported alg {alg!r} (expected 'HS256' or 'none')", source=name, field="protected.alg")
    if "signature" not in msg:
        raise InputError("missing field", source=name, field="signature")
    if hmac_key is not None and alg != "HS256" and not isinstance(hmac_key, SignedOnly):
        raise InputError("message is unsigned (alg 'none') but an HMAC key was given", source=name,
                         field="protected.alg")
    if hmac_key is not None and alg == "HS256":
        verify_signature(data, msg, hmac_key, name, cbor)
    payload = msg.get("payload")
    if not isinstance(payload, dict):
        raise InputError("missing or invalid 'payload' object", source=name, field="payload")
    interval = check_interval_ms(payload.get("interval_ms"), name, "payload.interval_ms")
    sensors = _sensors(payload.get("sensors"), name)
    values = _values(payload.get("values"), len(sensors), name)
    meta: dict[str, Any] = {}
    extra = payload.get("metadata")
    if extra is not None:
        if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
            raise InputError("metadata must be an object with string keys", source=name, field="payload.metadata")
        for k, v in extra.items():
            _no_nul(k, name, "payload.metadata")
            meta[k] = _meta_value(v, name)
    if alg == "HS256":
        meta["signature"] = "verified" if hmac_key is not None else "unverified"
    iat = prot.get("iat")
    if isinstance(iat, int | float) and not isinstance(iat, bool) and _plain_number(iat):
        meta["iat"] = iat
    audio = all(s.units == "wav" for s in sensors)
    return ParsedSample(
        array=values, kind="audio" if audio else "timeseries", sensors=sensors,
        frequency_hz=tidy_frequency(1000.0 / interval), metadata=meta,
        device_name=_opt_str(payload.get("device_name"), name, "payload.device_name"),
        device_type=_opt_str(payload.get("device_type"), name, "payload.device_type"),
    )


def _opt_str(v: Any, name: str, field: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise InputError(f"must be a string, got {type(v).__name__}", source=name, field=field)
    return _no_nul(v, name, field)


def _no_nul(text: str, name: str, field: str) -> str:
    """Text stored in the metadata database must not hold NUL characters (PostgreSQL refuses them)."""
    if "\x00" in text:
        raise InputError("text with a NUL character", source=name, field=field)
    return text


def _plain_number(v: int | float) -> bool:
    """A number every metadata database stores as JSON: finite, and an int within 64 bits."""
    if isinstance(v, int):
        return -(1 << 63) <= v < (1 << 63)
    return v == v and v not in (float("inf"), float("-inf"))


def _meta_value(v: Any, name: str) -> str | int | float | bool | None:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float) and _plain_number(v):
        return v
    text = v if isinstance(v, str) else short_repr(v, 1000)
    return _no_nul(text, name, "payload.metadata")


def _sensors(raw: Any, name: str) -> tuple[Sensor, ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError("missing or empty sensors list", source=name, field="payload.sensors")
    check_axes(len(raw), name, "payload.sensors", "sensors")
    out = []
    for i, s in enumerate(raw):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not s["name"]:
            raise InputError(f"sensor {i} needs a non-empty 'name'", source=name, field="payload.sensors")
        units = s.get("units")
        if units is not None and not isinstance(units, str):
            raise InputError(f"sensor {i} units must be a string", source=name, field="payload.sensors")
        _no_nul(s["name"] + (units or ""), name, "payload.sensors")
        out.append(Sensor(s["name"], None if units in (None, "", "N/A") else units))
    return tuple(out)


def _values(raw: Any, n_sensors: int, name: str) -> np.ndarray:
    if not isinstance(raw, list) or not raw:
        raise InputError("missing or empty values list", source=name, field="payload.values")
    rows = [[r] if n_sensors == 1 and not isinstance(r, list) else r for r in raw]
    for i, r in enumerate(rows):
        if not isinstance(r, list) or len(r) != n_sensors:
            got = len(r) if isinstance(r, list) else 1
            raise InputError(f"row {i} has {got} values but there are {n_sensors} sensors", source=name,
                             field="payload.values")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise InputError(f"row {i} holds a non-number {short_repr(v)}", source=name, field="payload.values")
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except (OverflowError, ValueError) as exc:
        raise InputError(f"values are not numbers: {str(exc)[:120]}", source=name, field="payload.values") from exc
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused below
        values = arr.astype(np.float32).reshape(len(rows), n_sensors)
    bad = first_infinite(values)
    if bad is not None:
        raise InputError(f"row {bad[0]} value {arr[bad]:g} is out of range (values must be finite float32 "
                         "numbers; NaN marks a missing value)", source=name, field="payload.values")
    return values


def build_message(
    array: np.ndarray, sensors: tuple[Sensor, ...] | list[Sensor], frequency_hz: float, *,
    device_type: str = "crisp-eml", device_name: str | None = None, metadata: dict[str, Any] | None = None,
    signed: bool = False, iat: int | None = None,
) -> dict[str, Any]:
    """A message with the zero signature; sign it with :func:`encode` (values are exact float32 values)."""
    a = np.asarray(array, dtype=np.float32)
    values = [[float(v) for v in row] for row in a]
    payload: dict[str, Any] = {"device_type": device_type}
    if device_name:
        payload["device_name"] = device_name
    payload["interval_ms"] = 1000.0 / frequency_hz
    payload["sensors"] = [{"name": s.name, "units": s.units if s.units is not None else "N/A"} for s in sensors]
    payload["values"] = values
    if metadata:
        payload["metadata"] = metadata
    prot: dict[str, Any] = {"ver": "v1", "alg": "HS256" if signed else "none"}
    if iat is not None:
        prot["iat"] = iat
    return {"protected": prot, "signature": ZERO_SIGNATURE, "payload": payload}


def encode(message: dict[str, Any], *, cbor: bool = False, hmac_key: str | bytes | None = None) -> bytes:
    """Encode a message; with a key, sign it the way the format specifies (HMAC over the zero-signature
    encoding, then the 64 zeros overwritten by the hex digest, which keeps the encoding's length)."""
    msg = dict(message, signature=ZERO_SIGNATURE)
    if hmac_key is not None:
        msg["protected"] = dict(msg["protected"], alg="HS256")
    if cbor:
        import cbor2

        body = cbor2.dumps(msg)
    else:
        body = json.dumps(msg).encode()
    if hmac_key is None:
        return body
    sig = hmac.new(_key_bytes(hmac_key), body, hashlib.sha256).hexdigest()
    marker = (b'"' + ZERO_SIGNATURE.encode() + b'"') if not cbor else None
    if marker is not None:
        return body.replace(marker, b'"' + sig.encode() + b'"', 1)
    import cbor2

    return body.replace(cbor2.dumps("signature") + cbor2.dumps(ZERO_SIGNATURE),
                        cbor2.dumps("signature") + cbor2.dumps(sig), 1)
