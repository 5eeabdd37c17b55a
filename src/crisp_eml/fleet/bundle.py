"""Signed deployable bundles: a deterministic ``.zip`` for one target, and its verification.

Layout (entries sorted, fixed timestamps and modes, so the same inputs give the same bytes; Ed25519
signatures are deterministic too)::

    BUNDLE.json      canonical JSON: model URI/version/sha256, target, gate result, sha256 of every file
    BUNDLE.sig       hex Ed25519 signature over the exact bytes of BUNDLE.json
    MANIFEST.json    the compiled library's manifest (also inside library/)
    model.tflite     the int8 model the library was compiled from
    library/...      the compiled C library folder

Pure apart from the key objects: takes and returns bytes, so the use cases decide where files live.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from crisp_eml.core.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "crisp-eml-bundle/1"
INFO_NAME = "BUNDLE.json"
SIG_NAME = "BUNDLE.sig"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: Most entries and unpacked bytes a bundle may hold (a bigger zip is refused before anything is unpacked).
MAX_ENTRIES = 10_000
MAX_UNPACKED_BYTES = 1 << 30


def canonical(obj: Any) -> bytes:
    """The one byte form of a JSON value that is signed: sorted keys, no spaces, ASCII."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    zi = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.external_attr = 0o644 << 16
    zi.create_system = 3  # unix, so the mode above means the same everywhere
    zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def build(files: Mapping[str, bytes], info: Mapping[str, Any], key: Ed25519PrivateKey) -> tuple[bytes, dict[str, Any]]:
    """Zip ``files`` (path in the bundle -> bytes) with a signed ``BUNDLE.json`` made of ``info`` plus the
    file hashes and the signer's public key. Returns (zip bytes, the BUNDLE.json content)."""
    from crisp_eml.fleet.keys import public_hex

    for name in files:
        why = "reserved" if name in (INFO_NAME, SIG_NAME) else entry_name_problem(name)
        if why is None and name.endswith("/"):
            why = "a directory"
        if why is not None:
            raise InputError(f"bad bundle entry name {name!r}: {why}", field="files")
    doc = dict(info)
    doc.update(format=FORMAT, files={n: sha256(files[n]) for n in sorted(files)},
               public_key=public_hex(key.public_key()))
    body = canonical(doc)
    sig = key.sign(body).hex().encode("ascii") + b"\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        entries = {**files, INFO_NAME: body, SIG_NAME: sig}
        for name in sorted(entries):
            _entry(zf, name, entries[name])
    return buf.getvalue(), doc


@dataclass
class BundleCheck:
    ok: bool
    signature: str  # valid | invalid | missing
    key_fingerprint: str | None
    key_source: str  # where the key that checked the signature came from
    problems: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # path, expected, actual, ok
    info: dict[str, Any] = field(default_factory=dict)
    pinned: bool = True  # False: checked with the key the bundle names itself (integrity, not origin)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def entry_name_problem(name: str) -> str | None:
    """Why ``name`` is unsafe as a path in a bundle (absolute, '..', backslash...), or None."""
    if not name or name in ("/", "."):
        return "empty name"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if any(part in ("", ".", "..") for part in name.removesuffix("/").split("/")):
        return "'.', '..' or empty path part"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control character in the name"
    return None


def _layout_problems(data: bytes, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> list[str]:
    """Bytes no listed entry accounts for: data before the first entry or between entries (a streaming reader
    would see entries the central directory hides), entries sharing or overlapping their local headers."""
    problems: list[str] = []
    pos, slack = 0, 0  # slack: room for the previous entry's data descriptor (flag bit 3), at most 24 bytes
    for info in sorted(infos, key=lambda i: i.header_offset):
        off = info.header_offset
        if off < pos:
            problems.append(f"{info.filename}: its local header overlaps the previous entry's data")
            continue
        if off > pos + slack:
            problems.append(f"bytes {pos}..{off} before {info.filename!r} are outside any listed entry")
        head = data[off:off + 30]
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            problems.append(f"{info.filename}: no local file header where the central directory points")
            pos, slack = off + 30, 0
            continue
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        pos = off + 30 + name_len + extra_len + info.compress_size
        slack = 24 if info.flag_bits & 0x08 else 0
    if zf.start_dir > pos + slack:  # start_dir: where the central directory starts
        problems.append(f"bytes {pos}..{zf.start_dir} before the central directory are outside any listed entry")
    return problems


def _read(data: bytes, source: str) -> tuple[dict[str, bytes], list[str]]:
    """The bundle's file entries (name -> bytes) and what is wrong with the zip itself.

    Refused, by name: duplicate names (readers disagree on which copy they take), names that differ only in
    letter case, unsafe paths, directory entries that carry data, encrypted entries or other compression
    methods, a local header whose name differs from the central directory's, hidden or overlapping bytes. An
    entry with a problem is left out of the table, so it never counts as verified. More than
    :data:`MAX_ENTRIES` entries or :data:`MAX_UNPACKED_BYTES` unpacked (a compression bomb) is an InputError.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError(f"not a readable bundle zip: {exc}", source=source) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise InputError(f"{len(infos)} zip entries, more than the {MAX_ENTRIES} a bundle may hold",
                             source=source)
        total = sum(i.file_size for i in infos)
        if total > MAX_UNPACKED_BYTES:
            raise InputError(f"the zip entries would unpack to {total} B, over the {MAX_UNPACKED_BYTES} B limit "
                             "(a compression bomb?)", source=source)
        problems = _layout_problems(data, zf, infos)
        counts = Counter(i.filename for i in infos)
        problems += [f"{n}: {c} entries with this name in the zip (readers disagree on which one they take)"
                     for n, c in sorted(counts.items()) if c > 1]
        folded: dict[str, str] = {}
        for n in sorted(counts):
            other = folded.setdefault(n.casefold(), n)
            if other != n:
                problems.append(f"{n}: differs from entry {other!r} only in letter case")
        entries: dict[str, bytes] = {}
        for info in infos:
            name = info.filename
            why = entry_name_problem(name)
            if why is not None:
                problems.append(f"{name!r}: unsafe entry name ({why})")
                continue
            if info.is_dir():
                if info.file_size or info.compress_size > 2:  # an empty deflate stream is 2 bytes
                    problems.append(f"{name}: a directory entry that carries {info.file_size} B of data")
                continue
            if counts[name] > 1:
                continue
            if info.flag_bits & 0x01:
                problems.append(f"{name}: encrypted entry")
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                problems.append(f"{name}: compression method {info.compress_type} (only stored and deflate)")
                continue
            try:
                content = zf.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError,
                    ValueError) as exc:
                problems.append(f"{name}: unreadable entry ({exc})")
                continue
            entries[name] = content
    return entries, problems


def verify(data: bytes, public_key: Ed25519PublicKey | None = None, *, key_source: str = "given",
           source: str = "bundle", allow_unpinned: bool = False) -> BundleCheck:
    """Check the zip's structure, the signature over ``BUNDLE.json`` and every file's sha256.

    ``public_key`` is the pinned key (the project's, or one the user gave). None: the key the bundle names is
    used, which proves integrity only, not who signed it; that is a problem unless ``allow_unpinned``, and the
    result says ``pinned: False`` either way.
    """
    from cryptography.exceptions import InvalidSignature

    from crisp_eml.fleet.keys import fingerprint, public_from_hex, public_hex

    entries, problems = _read(data, source)
    if INFO_NAME not in entries:
        if any(p.startswith(f"{INFO_NAME}:") for p in problems):
            raise InputError(f"no usable {INFO_NAME}: {'; '.join(problems)}", source=source)
        raise InputError(f"no {INFO_NAME} in the bundle", source=source)
    body = entries[INFO_NAME]
    try:
        info = json.loads(body)
    except ValueError as exc:
        raise InputError(f"{INFO_NAME} is not JSON: {exc}", source=source) from exc
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        raise InputError(f"{INFO_NAME} has no 'files' table", source=source)
    if info.get("format") != FORMAT:
        problems.append(f"{INFO_NAME}: format {info.get('format')!r}, expected {FORMAT!r}")
    key = public_key
    pinned = key is not None
    embedded = str(info.get("public_key", ""))
    if key is None:
        try:
            key = public_from_hex(embedded)
            key_source = "embedded in BUNDLE.json (not pinned: pass --key FILE or verify inside the project)"
        except ValueError:
            key = None
    fp = fingerprint(public_hex(key)) if key is not None else None
    sig_text = entries.get(SIG_NAME, b"").strip()
    if not sig_text:
        signature = "missing"
        problems.append(f"{SIG_NAME}: missing signature")
    elif key is None:
        signature = "invalid"
        problems.append(f"{INFO_NAME}: no usable public key to check the signature")
    else:
        try:
            key.verify(bytes.fromhex(sig_text.decode("ascii")), body)
            signature = "valid"
        except (InvalidSignature, ValueError, UnicodeDecodeError):
            signature = "invalid"
            named = ""
            if pinned and re.fullmatch(r"[0-9a-f]{64}", embedded) and embedded != public_hex(key):
                named = f"; the bundle names key {fingerprint(embedded)} as its signer"
            problems.append(f"{SIG_NAME}: bad signature over {INFO_NAME} (key {fp}{named})")
    if not pinned and signature == "valid" and not allow_unpinned:
        problems.append(f"{SIG_NAME}: signed by key {fp}, which only the bundle itself names (not pinned): pass "
                        "the signer's public key with --key FILE, verify inside the project, or accept it with "
                        "--allow-unpinned")
    files: list[dict[str, Any]] = []
    listed: dict[str, Any] = info["files"]
    for name in sorted(set(listed) | (set(entries) - {INFO_NAME, SIG_NAME})):
        want = listed.get(name)
        got = sha256(entries[name]) if name in entries else None
        ok = isinstance(want, str) and got == want
        files.append({"path": name, "expected": want, "actual": got, "ok": ok})
        if want is None:
            problems.append(f"{name}: not listed in {INFO_NAME}")
        elif (why := entry_name_problem(name)) is not None or name in (INFO_NAME, SIG_NAME):
            problems.append(f"{name!r}: listed in {INFO_NAME} under an unsafe name ({why or 'reserved'})")
        elif got is None:
            problems.append(f"{name}: listed in {INFO_NAME} but missing (or refused above)")
        elif not ok:
            problems.append(f"{name}: sha256 {got[:12]} does not match {str(want)[:12]} in {INFO_NAME}")
    return BundleCheck(not problems, signature, fp, key_source, problems, files,
                       {k: v for k, v in info.items() if k != "files"}, pinned)
