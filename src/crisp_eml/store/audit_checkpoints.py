"""Signed audit checkpoints: what lets ``eml audit verify`` catch a truncated or rewritten trail.

The hash chain in the database shows an edited entry, but whoever can write the database can also delete its
tail, or rewrite entries and recompute every hash with the public digest function. So after every committed
append the head of the chain, ``(seq, entry_hash)``, is signed with an Ed25519 key that is *not* in the
database nor in the project folder (``$EML_KEY_HOME``, default ``~/.config/crisp-eml/keys``), and appended as
one JSON line to ``.eml/audit-checkpoints.jsonl`` beside the database. The public key is pinned in ``eml.toml``
(``[audit] public_key``) and can also be given to ``eml audit verify --key`` from a copy kept elsewhere.

Each entry hash covers every entry before it, so one checkpoint vouches for the whole trail up to its seq.
Verification compares every checkpoint with the database: a checkpointed entry that is missing (truncation,
deletion) or whose hash differs (rewrite, reorder, insertion) is reported, and so is any entry after the last
checkpoint (an entry appended without the key: a forgery, or a crash between commit and checkpoint).
What it cannot catch: someone holding the private key, or a rollback of *both* the database and the checkpoint
file to an earlier consistent state (keep a copy of a recent checkpoint line elsewhere and pass it with
``--checkpoint``).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisp_eml.core.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CHECKPOINT_FILE = "audit-checkpoints.jsonl"
DOMAIN = "crisp-eml audit checkpoint v1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def key_home() -> Path:
    """Where private audit keys live: ``$EML_KEY_HOME``, else ``$XDG_CONFIG_HOME/crisp-eml/keys``."""
    env = os.environ.get("EML_KEY_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crisp-eml" / "keys"


def private_key_path(project_id: str) -> Path:
    return key_home() / f"audit-{project_id}.key"


def load_private(project_id: str, *, create: bool) -> Ed25519PrivateKey | None:
    """The project's audit signing key; made (mode 0600, never overwritten) when ``create``; else None if absent."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = private_key_path(project_id)
    if not path.is_file():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # Written whole under a private name, then linked into place: the link fails if another process made
        # the key first, and nobody can ever read a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: use theirs
            if not path.is_file():  # a folder or a dangling link holds the name: there is no key to use
                raise InputError("cannot make the audit signing key: the path exists and is not a file",
                                 source=str(path)) from None
            return load_private(project_id, create=False)
        finally:
            tmp.unlink(missing_ok=True)
        return key
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise InputError(f"unreadable audit signing key: {exc}", source=str(path)) from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise InputError("the audit signing key is not an Ed25519 key", source=str(path))
    return loaded


def public_hex(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def parse_public(text: str, *, source: str) -> Ed25519PublicKey:
    """A public key from 64 hex digits (as pinned in eml.toml) or a PEM file's text."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = text.strip()
    try:
        if re.fullmatch(r"[0-9a-fA-F]{64}", text):
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
        key = serialization.load_pem_public_key(text.encode())
    except ValueError as exc:
        raise InputError(f"not an Ed25519 public key (64 hex digits or PEM): {exc}", source=source) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an Ed25519 public key", source=source)
    return key


def message(project_id: str, seq: int, entry_hash: str) -> bytes:
    return f"{DOMAIN}\n{project_id}\n{seq}\n{entry_hash}\n".encode()


def append(path: Path, project_id: str, key: Ed25519PrivateKey, seq: int, entry_hash: str, at: str) -> None:
    """Append one signed checkpoint line (a single O_APPEND write: concurrent appenders never interleave)."""
    sig = key.sign(message(project_id, seq, entry_hash)).hex()
    line = json.dumps({"seq": seq, "hash": entry_hash, "at": at, "sig": sig}, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    sig: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "sig": self.sig}


def parse_line(line: str) -> Checkpoint:
    """One checkpoint line; ``ValueError`` with the reason when it is not one."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    seq, digest, at, sig = obj.get("seq"), obj.get("hash"), obj.get("at", ""), obj.get("sig")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError(f"'seq' must be a positive integer, got {seq!r}")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise ValueError("'hash' must be 64 hex digits")
    if not isinstance(sig, str) or not re.fullmatch(r"[0-9a-f]{128}", sig):
        raise ValueError("'sig' must be 128 hex digits")
    return Checkpoint(seq, digest, str(at), sig)


@dataclass
class CheckpointReport:
    """What the checkpoints say about the trail: problems (seq, reason) and the last checkpoint that holds."""

    problems: list[tuple[int, str]] = field(default_factory=list)
    checkpoints: int = 0
    last_good: Checkpoint | None = None


def check(
    lines: list[str], entries: Mapping[int, str], public_key: Ed25519PublicKey, project_id: str,
    *, source: str, external: list[Checkpoint] | None = None,
) -> CheckpointReport:
    """Compare signed checkpoints (file lines plus ``external`` ones kept elsewhere) with the database's
    ``entries`` (seq -> entry hash)."""
    from cryptography.exceptions import InvalidSignature

    report = CheckpointReport()
    good: list[Checkpoint] = []
    parsed: list[tuple[str, Checkpoint]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            parsed.append((f"{source} line {n}", parse_line(line)))
        except ValueError as exc:
            report.problems.append((0, f"{source} line {n} is not a checkpoint: {exc}"))
    parsed += [(f"checkpoint given for entry {c.seq}", c) for c in external or []]
    for where, cp in parsed:
        report.checkpoints += 1
        try:
            public_key.verify(bytes.fromhex(cp.sig), message(project_id, cp.seq, cp.hash))
        except InvalidSignature:
            report.problems.append((cp.seq, f"{where}: signature does not verify with the pinned audit key "
                                            "(forged, or signed by another key)"))
            continue
        have = entries.get(cp.seq)
        if have is None:
            report.problems.append((cp.seq, f"entry {cp.seq} was checkpointed ({where}) but is missing: "
                                            "the trail was truncated or entries were deleted"))
        elif have != cp.hash:
            report.problems.append((cp.seq, f"entry {cp.seq} differs from its signed checkpoint ({where}): the "
                                            "trail was rewritten (edited, reordered, inserted or recomputed)"))
        else:
            good.append(cp)
    if good:
        report.last_good = max(good, key=lambda c: c.seq)
    covered = max((cp.seq for _, cp in parsed), default=0)
    tail = sorted(s for s in entries if s > covered)
    if tail:
        span = f"{tail[0]}" if len(tail) == 1 else f"{tail[0]}..{tail[-1]}"
        report.problems.append((tail[0], f"entr{'y' if len(tail) == 1 else 'ies'} {span} "
                                         f"{'is' if len(tail) == 1 else 'are'} not covered by a signed checkpoint "
                                         "(appended without the project's audit key: forged, or the writer "
                                         "crashed before checkpointing)"))
    return report
