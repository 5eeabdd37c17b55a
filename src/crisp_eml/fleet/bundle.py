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
import zipfile
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
        if name in (INFO_NAME, SIG_NAME) or name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise InputError(f"bad bundle entry name {name!r}", field="files")
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(data: bytes, source: str) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InputError(f"not a readable bundle zip: {exc}", source=source) from exc


def verify(data: bytes, public_key: Ed25519PublicKey | None = None, *, key_source: str = "given",
           source: str = "bundle") -> BundleCheck:
    """Check the signature over ``BUNDLE.json`` and every file's sha256. ``public_key`` None: use the key the
    bundle names (proves integrity only, not who signed it: ``key_source`` says 'embedded (not pinned)')."""
    from cryptography.exceptions import InvalidSignature

    from crisp_eml.fleet.keys import fingerprint, public_from_hex, public_hex

    entries = _read(data, source)
    if INFO_NAME not in entries:
        raise InputError(f"no {INFO_NAME} in the bundle", source=source)
    body = entries[INFO_NAME]
    try:
        info = json.loads(body)
    except ValueError as exc:
        raise InputError(f"{INFO_NAME} is not JSON: {exc}", source=source) from exc
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        raise InputError(f"{INFO_NAME} has no 'files' table", source=source)
    problems: list[str] = []
    key = public_key
    if key is None:
        try:
            key = public_from_hex(str(info.get("public_key", "")))
            key_source = "embedded in BUNDLE.json (not pinned: pass --public-key or verify inside the project)"
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
            problems.append(f"{SIG_NAME}: bad signature over {INFO_NAME} (key {fp})")
    files: list[dict[str, Any]] = []
    listed: dict[str, Any] = info["files"]
    for name in sorted(set(listed) | (set(entries) - {INFO_NAME, SIG_NAME})):
        want = listed.get(name)
        got = sha256(entries[name]) if name in entries else None
        ok = want is not None and got == want
        files.append({"path": name, "expected": want, "actual": got, "ok": ok})
        if want is None:
            problems.append(f"{name}: not listed in {INFO_NAME}")
        elif got is None:
            problems.append(f"{name}: listed in {INFO_NAME} but missing")
        elif not ok:
            problems.append(f"{name}: sha256 {got[:12]} does not match {want[:12]} in {INFO_NAME}")
    return BundleCheck(not problems, signature, fp, key_source, problems, files,
                       {k: v for k, v in info.items() if k != "files"})
