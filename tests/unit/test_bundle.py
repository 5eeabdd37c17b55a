"""Signed bundles (pure part): deterministic zip, signature and per-file hashes, tampering detected."""

from __future__ import annotations

import io
import warnings
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


def test_unpinned_key_is_refused_unless_allowed_and_then_reported() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(data)
    assert not r.ok and not r.pinned and r.signature == "valid" and "not pinned" in r.key_source
    assert len(r.problems) == 1 and "--allow-unpinned" in r.problems[0] and "--key" in r.problems[0]
    r = bundle.verify(data, allow_unpinned=True)
    assert r.ok and not r.pinned and r.to_dict()["pinned"] is False
    assert bundle.verify(data, key.public_key()).pinned


def test_bundle_resigned_with_another_key_fails_against_the_pinned_key() -> None:
    key, mallory = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    genuine, _ = bundle.build(FILES, INFO, key)
    forged, _ = bundle.build({**FILES, "model.tflite": b"evil"}, INFO, mallory)
    r = bundle.verify(forged, key.public_key())
    assert not r.ok and r.signature == "invalid" and "names key" in r.problems[0]
    assert not bundle.verify(forged).ok  # unpinned: refused too
    assert bundle.verify(genuine, key.public_key()).ok


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip holding exactly ``entries`` in this order (duplicates and odd names included)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on a duplicate name, and writes it anyway
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in entries:
                zf.writestr(zipfile.ZipInfo(name, date_time=bundle.FIXED_TIME), data)
    return buf.getvalue()


def _entries(data: bytes) -> list[tuple[str, bytes]]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, zf.read(i)) for i in zf.infolist()]


@pytest.mark.parametrize("tampered_first", [True, False])
def test_duplicate_entry_names_are_refused_in_both_orders(tampered_first: bool) -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    out: list[tuple[str, bytes]] = []
    for name, content in _entries(data):
        if name == "model.tflite":
            pair = [(name, b"tampered"), (name, content)]
            out += pair if tampered_first else pair[::-1]
        else:
            out.append((name, content))
    r = bundle.verify(_zip(out), key.public_key())
    assert not r.ok
    assert any(p.startswith("model.tflite: 2 entries with this name") for p in r.problems), r.problems
    assert not next(f for f in r.files if f["path"] == "model.tflite")["ok"]  # neither copy counts as verified


def test_directory_entries_carrying_data_and_case_twins_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(_zip([*_entries(data), ("library/", b"hidden payload")]), key.public_key())
    assert r.problems == ["library/: a directory entry that carries 14 B of data"]
    assert bundle.verify(_zip([*_entries(data), ("library/", b"")]), key.public_key()).ok  # empty: harmless
    r = bundle.verify(_zip([*_entries(data), ("Model.tflite", b"x")]), key.public_key())
    assert "model.tflite: differs from entry 'Model.tflite' only in letter case" in r.problems


def test_extra_and_missing_entries_are_named() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(_zip([e for e in _entries(data) if e[0] != "library/motion.c"]), key.public_key())
    assert r.problems == ["library/motion.c: listed in BUNDLE.json but missing (or refused above)"]
    r = bundle.verify(_zip([*_entries(data), ("library/extra.c", b"int evil;")]), key.public_key())
    assert r.problems == ["library/extra.c: not listed in BUNDLE.json"]


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.c", "library/../../x", "library\\win.c", "C:/x", "a//b",
                                  "./model.tflite"])
def test_path_tricks_are_refused(name: str) -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(_zip([*_entries(data), (name, b"x")]), key.public_key())
    assert not r.ok and any(p.startswith(f"{name!r}: unsafe entry name") for p in r.problems), r.problems


def test_local_header_name_differing_from_the_central_directory_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    first = data.index(b"model.tflite")  # the local header's copy comes before the central directory's
    patched = data[:first] + b"model.tflitE" + data[first + len(b"model.tflite"):]
    r = bundle.verify(patched, key.public_key())
    assert not r.ok and any(p.startswith("model.tflite: unreadable entry") and "differ" in p
                            for p in r.problems), r.problems


def test_bytes_hidden_before_or_between_entries_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    hidden = _zip([("model.tflite", b"what a streaming reader would take")])
    r = bundle.verify(hidden + data, key.public_key())
    assert not r.ok and r.problems[0].startswith(f"bytes 0..{len(hidden)} before 'BUNDLE.json'"), r.problems


def test_compression_bomb_and_entry_count_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build({**FILES, "library/zeros.bin": bytes(8 << 20)}, INFO, key)
    assert len(data) < 100_000 and bundle.verify(data, key.public_key()).ok
    monkeypatch.setattr(bundle, "MAX_UNPACKED_BYTES", 4 << 20)
    with pytest.raises(InputError, match="compression bomb"):
        bundle.verify(data, key.public_key(), source="bomb.zip")
    monkeypatch.setattr(bundle, "MAX_ENTRIES", 3)
    with pytest.raises(InputError, match="more than the 3"):
        bundle.verify(data, key.public_key())


def test_garbage_and_bad_names_are_input_errors() -> None:
    with pytest.raises(InputError):
        bundle.verify(b"not a zip", source="x.zip")
    for bad in ("../evil", "/abs", "a\\b", "BUNDLE.json", "library/"):
        with pytest.raises(InputError, match="bad bundle entry name"):
            bundle.build({bad: b""}, INFO, Ed25519PrivateKey.generate())


def test_keys_are_created_once_private_0600(tmp_path: Path) -> None:
    key, created = load_or_create(tmp_path / "keys")
    again, created2 = load_or_create(tmp_path / "keys")
    assert created and not created2
    assert public_hex(key.public_key()) == public_hex(again.public_key())
    assert (tmp_path / "keys" / "bundle-signing.key").stat().st_mode & 0o777 == 0o600
    pub = read_public(tmp_path / "keys" / "bundle-signing.pub")
    assert public_hex(pub) == public_hex(key.public_key())
