"""Signed bundles (pure part): deterministic zip, signature and per-file hashes, tampering detected."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib
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


# --- zip surgery helpers for the mutation-driven tests below --------------------------------------------------------

def _central(data: bytes, name: str) -> int:
    """Offset of ``name``'s central directory record (the last one with that name)."""
    found = -1
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        n = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if data[pos + 46:pos + 46 + n] == name.encode():
            found = pos
        pos = data.find(b"PK\x01\x02", pos + 46)
    assert found >= 0, name
    return found


def _patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    size = struct.calcsize(fmt)
    return data[:at] + struct.pack(fmt, value) + data[at + size:]


def _before_central_directory(data: bytes, junk: bytes) -> bytes:
    """``junk`` inserted between the last entry and the central directory, the end record adjusted to match."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    start = zf.start_dir
    out = data[:start] + junk + data[start:]
    eocd = out.rindex(b"PK\x05\x06")
    offset = struct.unpack("<I", out[eocd + 16:eocd + 20])[0]
    return _patch(out, eocd + 16, "<I", offset + len(junk))


def _resigned(data: bytes, key: Ed25519PrivateKey, doc: dict[str, object]) -> bytes:
    """The same bundle with BUNDLE.json replaced by ``doc``, correctly signed by ``key`` (a crafted bundle)."""
    body = bundle.canonical(doc)
    sig = key.sign(body).hex().encode() + b"\n"
    return _zip([(n, body if n == "BUNDLE.json" else sig if n == "BUNDLE.sig" else c) for n, c in _entries(data)])


class _Unseekable(io.RawIOBase):
    """A write-only stream without tell/seek: zipfile then writes a data descriptor after every entry."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.buf += b
        return len(b)


def _streamed(data: bytes) -> bytes:
    out = _Unseekable()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in _entries(data):
            zf.writestr(zipfile.ZipInfo(name, date_time=bundle.FIXED_TIME), content)
    return bytes(out.buf)


def test_canonical_form_is_sorted_compact_ascii() -> None:
    assert bundle.canonical({"b": [1, 2], "a": "caf\u00e9"}) == b'{"a":"caf\\u00e9","b":[1,2]}'
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, {**INFO, "note": "d\u00e9ploy\u00e9 \u2713"}, key)
    r = bundle.verify(data, key.public_key())
    assert r.ok and r.info["note"] == "d\u00e9ploy\u00e9 \u2713", r.problems


def test_entries_are_written_the_same_way_on_every_machine() -> None:
    """Fixed time, unix mode 0644, deflate at level 9: what makes a rebuild byte-identical anywhere."""
    source = b"".join(b"int v%d = %d;\n" % (i, (i * 7919) % 1000) for i in range(2000))
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build({**FILES, "library/big.c": source}, INFO, key)
    zf = zipfile.ZipFile(io.BytesIO(data))
    for info in zf.infolist():
        assert info.date_time == bundle.FIXED_TIME and info.create_system == 3, info
        assert info.external_attr >> 16 == 0o644 and info.compress_type == zipfile.ZIP_DEFLATED, info
    info = zf.getinfo("library/big.c")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    level9 = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert data[start:start + info.compress_size] == level9.compress(source) + level9.flush()


def test_build_names_the_refused_entry_and_why() -> None:
    for bad, why in (("BUNDLE.json", "reserved"), ("BUNDLE.sig", "reserved"), ("library/", "a directory"),
                     ("../evil", "'.', '..' or empty path part")):
        with pytest.raises(InputError) as exc:
            bundle.build({bad: b""}, INFO, Ed25519PrivateKey.generate())
        assert exc.value.field == "files"
        assert str(exc.value) == f"field 'files': bad bundle entry name {bad!r}: {why}"


@pytest.mark.parametrize(("name", "why"), [
    ("", "empty name"), ("/", "empty name"), (".", "empty name"),
    ("a\\b", "backslash in the name"),
    ("/etc/passwd", "absolute path"), ("C:/x", "absolute path"), ("c:x", "absolute path"),
    ("a//b", "'.', '..' or empty path part"), ("../x", "'.', '..' or empty path part"),
    ("x/./y", "'.', '..' or empty path part"), ("x/..", "'.', '..' or empty path part"),
    ("a\x00b", "control character in the name"), ("a\x1fb", "control character in the name"),
    ("a\x7fb", "control character in the name"),
    ("library/my file.c", None), ("library/", None), ("a~b", None), ("caf\u00e9.c", None), ("library/x.c", None),
])
def test_entry_name_problem_table(name: str, why: str | None) -> None:
    assert bundle.entry_name_problem(name) == why


def test_a_zip_written_with_data_descriptors_is_accepted() -> None:
    """Zips streamed by other tools carry a data descriptor after each entry: not hidden bytes."""
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    streamed = _streamed(data)
    assert all(i.flag_bits & 0x08 for i in zipfile.ZipFile(io.BytesIO(streamed)).infolist())
    r = bundle.verify(streamed, key.public_key())
    assert r.ok, r.problems
    # a descriptor is at most 24 bytes: anything beyond that is refused (16-byte descriptor + 9 hidden bytes)
    r = bundle.verify(_before_central_directory(streamed, b"x" * 9), key.public_key())
    assert len(r.problems) == 1 and r.problems[0].endswith("before the central directory are outside any listed "
                                                           "entry"), r.problems


def test_a_single_hidden_byte_is_refused_at_either_end() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(b"\x00" + data, key.public_key())
    assert r.problems == ["bytes 0..1 before 'BUNDLE.json' are outside any listed entry"]
    start = zipfile.ZipFile(io.BytesIO(data)).start_dir
    r = bundle.verify(_before_central_directory(data, b"\x00"), key.public_key())
    assert r.problems == [f"bytes {start}..{start + 1} before the central directory are outside any listed entry"]


def test_large_extra_fields_are_accounted_for() -> None:
    """An entry may carry up to 64 KiB of extra field: its length is unsigned and adds to the entry's size."""
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in _entries(data):
            zi = zipfile.ZipInfo(name, date_time=bundle.FIXED_TIME)
            if name == "model.tflite":
                zi.extra = struct.pack("<HH", 0xCAFE, 39_996) + bytes(39_996)
            zf.writestr(zi, content)
    r = bundle.verify(buf.getvalue(), key.public_key())
    assert r.ok, r.problems


def test_overlapping_local_headers_are_refused_and_the_rest_still_checked() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    infos = {i.filename: i for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    patched = _patch(data, _central(data, "BUNDLE.sig") + 42, "<I", 0)  # points at BUNDLE.json's header
    r = bundle.verify(patched, key.public_key())
    assert r.problems[:2] == [
        "BUNDLE.sig: its local header overlaps the previous entry's data",
        f"bytes {infos['BUNDLE.sig'].header_offset}..{infos['MANIFEST.json'].header_offset} before 'MANIFEST.json' "
        "are outside any listed entry"]
    assert r.signature == "missing" and not r.ok


def test_a_central_directory_pointing_at_no_local_header_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build({**FILES, "a": b""}, INFO, key)
    data = _zip(_entries(data))  # stored: the empty entry "a" is its 31-byte local header and nothing else
    infos = {i.filename: i for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    off = infos["a"].header_offset
    patched = data[:off] + b"XXXX" + data[off + 4:]
    r = bundle.verify(patched, key.public_key())
    assert r.problems == [
        "a: no local file header where the central directory points",
        f"bytes {off + 30}..{off + 31} before 'library/MANIFEST.json' are outside any listed entry",
        "a: unreadable entry (Bad magic number for file header)",
        "a: listed in BUNDLE.json but missing (or refused above)"]


def test_source_is_named_in_every_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError) as exc:
        bundle.verify(b"not a zip", source="x.zip")
    assert str(exc.value) == "x.zip: not a readable bundle zip: File is not a zip file"
    with pytest.raises(InputError, match=r"^bundle: not a readable bundle zip"):
        bundle.verify(b"not a zip")  # the default source
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    total = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    monkeypatch.setattr(bundle, "MAX_UNPACKED_BYTES", total)  # exactly at the limit: accepted
    monkeypatch.setattr(bundle, "MAX_ENTRIES", len(FILES) + 2)
    assert bundle.verify(data, key.public_key()).ok
    monkeypatch.setattr(bundle, "MAX_UNPACKED_BYTES", total - 1)
    with pytest.raises(InputError) as exc:
        bundle.verify(data, key.public_key(), source="b.zip")
    assert str(exc.value) == (f"b.zip: the zip entries would unpack to {total} B, over the {total - 1} B limit "
                              "(a compression bomb?)")
    monkeypatch.setattr(bundle, "MAX_ENTRIES", len(FILES) + 1)
    with pytest.raises(InputError) as exc:
        bundle.verify(data, key.public_key(), source="b.zip")
    assert str(exc.value) == f"b.zip: {len(FILES) + 2} zip entries, more than the {len(FILES) + 1} a bundle may hold"


def test_unusable_or_missing_bundle_json_is_an_input_error() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    entries = _entries(data)
    info_entry = next(e for e in entries if e[0] == "BUNDLE.json")
    with pytest.raises(InputError) as exc:
        bundle.verify(_zip([*entries, info_entry, ("bundle.json", b"{}")]), source="b.zip")
    assert str(exc.value) == ("b.zip: no usable BUNDLE.json: BUNDLE.json: 2 entries with this name in the zip "
                              "(readers disagree on which one they take); bundle.json: differs from entry "
                              "'BUNDLE.json' only in letter case")
    with pytest.raises(InputError) as exc:
        bundle.verify(_zip([e for e in entries if e[0] != "BUNDLE.json"]), source="b.zip")
    assert str(exc.value) == "b.zip: no BUNDLE.json in the bundle"
    others = [e for e in entries if e[0] != "BUNDLE.json"]
    with pytest.raises(InputError) as exc:
        bundle.verify(_zip([("BUNDLE.json", b"{not json"), *others]), source="b.zip")
    assert str(exc.value).startswith("b.zip: BUNDLE.json is not JSON: ")
    for body in (b"[]", b'{"format": "crisp-eml-bundle/1"}', b'{"files": []}'):
        with pytest.raises(InputError) as exc:
            bundle.verify(_zip([("BUNDLE.json", body), *others]), source="b.zip")
        assert str(exc.value) == "b.zip: BUNDLE.json has no 'files' table"


def test_refused_entries_do_not_stop_the_others_being_checked() -> None:
    """Each refused entry is reported and the entries after it are still read and verified."""
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    entries = _entries(data)
    r = bundle.verify(_zip([("../up.c", b"x"), ("library/", b""), *entries]), key.public_key())
    assert r.problems == ["'../up.c': unsafe entry name ('.', '..' or empty path part)"]
    motion = next(e for e in entries if e[0] == "library/motion.c")
    r = bundle.verify(_zip([*entries, motion]), key.public_key())
    assert r.problems == ["library/motion.c: 2 entries with this name in the zip (readers disagree on which one "
                          "they take)", "library/motion.c: listed in BUNDLE.json but missing (or refused above)"]


def test_an_empty_deflated_directory_entry_is_harmless_but_hidden_compressed_bytes_are_not() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("library/", date_time=bundle.FIXED_TIME), b"", compress_type=zipfile.ZIP_DEFLATED)
        for name, content in _entries(data):
            zf.writestr(zipfile.ZipInfo(name, date_time=bundle.FIXED_TIME), content)
    assert zipfile.ZipFile(buf).getinfo("library/").compress_size == 2
    assert bundle.verify(buf.getvalue(), key.public_key()).ok
    # 3 bytes behind a directory entry whose header says it unpacks to nothing
    hidden = _zip([("library/", b"abc"), *_entries(data)])
    hidden = _patch(hidden, _central(hidden, "library/") + 24, "<I", 0)
    r = bundle.verify(hidden, key.public_key())
    assert r.problems == ["library/: a directory entry that carries 0 B of data"]


def test_encrypted_entries_and_other_compression_methods_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    at = _central(data, "library/motion.c")
    encrypted = _patch(data, at + 8, "<H", 0x01)
    encrypted = _before_central_directory(_patch(encrypted, _central(data, "model.tflite") + 8, "<H", 0x01), b"\x00")
    start = zipfile.ZipFile(io.BytesIO(data)).start_dir
    r = bundle.verify(encrypted, key.public_key())
    assert r.problems == [  # the last entry being encrypted does not excuse the byte hidden after it
        f"bytes {start}..{start + 1} before the central directory are outside any listed entry",
        "library/motion.c: encrypted entry", "model.tflite: encrypted entry",
        "library/motion.c: listed in BUNDLE.json but missing (or refused above)",
        "model.tflite: listed in BUNDLE.json but missing (or refused above)"]
    r = bundle.verify(_patch(data, at + 10, "<H", 12), key.public_key())
    assert r.problems == ["library/motion.c: compression method 12 (only stored and deflate)",
                          "library/motion.c: listed in BUNDLE.json but missing (or refused above)"]


def test_an_unreadable_entry_does_not_hide_the_entries_after_it() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    first = data.index(b"library/motion.c")  # the local header's copy
    patched = data[:first] + b"library/motion.C" + data[first + len(b"library/motion.c"):]
    r = bundle.verify(patched, key.public_key())
    assert len(r.problems) == 2 and r.problems[0].startswith("library/motion.c: unreadable entry"), r.problems
    assert r.problems[1] == "library/motion.c: listed in BUNDLE.json but missing (or refused above)"


def test_signature_problems_are_reported_exactly() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data, doc = bundle.build(FILES, INFO, key)
    fp = fingerprint(public_hex(key.public_key()))
    r = bundle.verify(data, key.public_key())
    assert r.key_source == "given" and r.key_fingerprint == fp and "files" not in r.info
    # tampered BUNDLE.json, same key named and pinned: no "names key" remark
    forged = _zip([(n, bundle.canonical(dict(doc, target="x")) if n == "BUNDLE.json" else c)
                   for n, c in _entries(data)])
    r = bundle.verify(forged, key.public_key())
    assert r.problems == [f"BUNDLE.sig: bad signature over BUNDLE.json (key {fp})"]
    # missing signature
    r = bundle.verify(_zip([e for e in _entries(data) if e[0] != "BUNDLE.sig"]), key.public_key())
    assert r.signature == "missing" and r.problems == ["BUNDLE.sig: missing signature"]
    # a BUNDLE.json naming no usable key: unpinned there is nothing to check with
    garbled = _resigned(data, key, dict(doc, public_key="zz"))
    r = bundle.verify(garbled)
    assert r.signature == "invalid" and r.key_fingerprint is None
    assert r.problems == ["BUNDLE.json: no usable public key to check the signature"]
    assert bundle.verify(_resigned(data, key, {k: v for k, v in doc.items() if k != "public_key"})).problems == [
        "BUNDLE.json: no usable public key to check the signature"]
    # pinned to another key, the bundle naming garbage: the bad signature, without a "names key" remark
    ofp = fingerprint(public_hex(other.public_key()))
    assert bundle.verify(garbled, other.public_key()).problems == [
        f"BUNDLE.sig: bad signature over BUNDLE.json (key {ofp})"]


def test_unpinned_key_source_and_message_in_full() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    r = bundle.verify(data)
    assert r.key_source == "embedded in BUNDLE.json (not pinned: pass --key FILE or verify inside the project)"
    fp = fingerprint(public_hex(key.public_key()))
    assert r.problems == [f"BUNDLE.sig: signed by key {fp}, which only the bundle itself names (not pinned): pass the "
                          "signer's public key with --key FILE, verify inside the project, or accept it with "
                          "--allow-unpinned"]


def test_file_rows_and_hash_mismatch_message() -> None:
    key = Ed25519PrivateKey.generate()
    data, _ = bundle.build(FILES, INFO, key)
    want = bundle.sha256(FILES["library/motion.c"])
    r = bundle.verify(data, key.public_key())
    assert {"path": "library/motion.c", "expected": want, "actual": want, "ok": True} in r.files
    got = bundle.sha256(b"int y;\n")
    r = bundle.verify(_rewrite(data, "library/motion.c", b"int y;\n"), key.public_key())
    assert r.problems == [f"library/motion.c: sha256 {got[:12]} does not match {want[:12]} in BUNDLE.json"]
    assert {"path": "library/motion.c", "expected": want, "actual": got, "ok": False} in r.files


def test_format_and_unsafe_listed_names_are_reported() -> None:
    key = Ed25519PrivateKey.generate()
    data, doc = bundle.build(FILES, INFO, key)
    r = bundle.verify(_resigned(data, key, dict(doc, format="crisp-eml-bundle/2")), key.public_key())
    assert r.problems == ["BUNDLE.json: format 'crisp-eml-bundle/2', expected 'crisp-eml-bundle/1'"]
    files = dict(doc["files"], **{"../evil": "00" * 32, "BUNDLE.sig": "00" * 32})
    r = bundle.verify(_resigned(data, key, dict(doc, files=files)), key.public_key())
    assert r.problems == [
        "'../evil': listed in BUNDLE.json under an unsafe name ('.', '..' or empty path part)",
        "'BUNDLE.sig': listed in BUNDLE.json under an unsafe name (reserved)"]
