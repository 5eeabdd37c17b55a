"""Signed bundles (pure part): deterministic zip, signature and per-file hashes, tampering detected."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crisp_eml.core.errors import InputError
from crisp_eml.fleet import bundle
from crisp_eml.fleet.keys import fingerprint, load_or_create, public_hex, read_public

FILES = {"library/motion.c": b"int x;\n", "library/MANIFEST.json": b"{}", "model.tflite": b"\x00TFL3" * 10,
         "MANIFEST.json": b"{}"}
INFO = {"model": {"uri": "models:/motion/1", "sha256": "ab" * 32}, "target": "cortex-m4f-80mhz", "gate": {"id": 3}}


def _rewrite(data: bytes, name: str, new: bytes) -> bytes:
    """The same zip with one entry's bytes replaced (what an attacker or a bad copy does)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info, new if info.filename == name else src.read(info))
    return buf.getvalue()


def test_round_trip_and_deterministic() -> None:
    key = Ed25519PrivateKey.generate()
    data, doc = bundle.build(FILES, INFO, key)
    again, _ = bundle.build(dict(reversed(list(FILES.items()))), INFO, key)
    assert data == again  # sorted entries, fixed timestamps, deterministic signature
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == sorted(names) and {"BUNDLE.json", "BUNDLE.sig"} <= set(names)
    r = bundle.verify(data, key.public_key())
    assert r.ok and r.signature == "valid" and len(r.files) == len(FILES), r.problems
    assert r.info["model"]["uri"] == "models:/motion/1" and doc["public_key"] == public_hex(key.public_key())


def test_tampered_file_is_named() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(_rewrite(data, "library/motion.c", b"int y;\n"), key.public_key())
    assert not r.ok and r.signature == "valid"
    assert [p.split(":")[0] for p in r.problems] == ["library/motion.c"]


def test_tampered_bundle_json_breaks_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    data, doc = bundle.build(FILES, INFO, key)
    forged = dict(doc, target="cortex-m0plus-48mhz")
    r = bundle.verify(_rewrite(data, "BUNDLE.json", bundle.canonical(forged)), key.public_key())
    assert not r.ok and r.signature == "invalid" and r.problems[0].startswith("BUNDLE.sig")


def test_added_file_and_wrong_key() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(data, other.public_key())
    assert not r.ok and r.signature == "invalid" and r.key_fingerprint == fingerprint(public_hex(other.public_key()))
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("library/extra.c", b"evil")
    r = bundle.verify(buf.getvalue(), key.public_key())
    assert r.problems == ["library/extra.c: not listed in BUNDLE.json"]


def test_unpinned_verification_uses_the_embedded_key_and_says_so() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(data)
    assert r.ok and "not pinned" in r.key_source


def test_garbage_and_bad_names_are_input_errors() -> None:
    with pytest.raises(InputError):
        bundle.verify(b"not a zip", source="x.zip")
    with pytest.raises(InputError):
        bundle.build({"../evil": b""}, INFO, Ed25519PrivateKey.generate())


def test_keys_are_created_once_private_0600(tmp_path: Path) -> None:
    key, created = load_or_create(tmp_path / "keys")
    again, created2 = load_or_create(tmp_path / "keys")
    assert created and not created2
    assert public_hex(key.public_key()) == public_hex(again.public_key())
    assert (tmp_path / "keys" / "bundle-signing.key").stat().st_mode & 0o777 == 0o600
    pub = read_public(tmp_path / "keys" / "bundle-signing.pub")
    assert public_hex(pub) == public_hex(key.public_key())
