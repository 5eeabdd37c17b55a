"""Per-project Ed25519 signing keys for bundles, kept under ``.eml/keys/``.

The private key is written once (PKCS#8 PEM, file mode 0600) and never leaves the project; the public key
(raw 32 bytes, hex) is what a device or a CI job pins to check bundles with ``eml bundle verify``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from crisp_eml.core.errors import InputError, ToolMissingError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_NAME = "bundle-signing.key"
PUBLIC_NAME = "bundle-signing.pub"


def _crypto() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ToolMissingError("bundle signing needs the 'cryptography' package (pip install cryptography)") from exc


def public_hex(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def fingerprint(public_key_hex: str) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def load_or_create(key_dir: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The project's signing key; generated (0600) on first use. Returns (key, created)."""
    _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv = key_dir / PRIVATE_NAME
    if priv.is_file():
        try:
            key = serialization.load_pem_private_key(priv.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise InputError(f"unreadable signing key: {exc}", source=str(priv)) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError("the signing key is not an Ed25519 key", source=str(priv))
        return key, False
    key_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    (key_dir / PUBLIC_NAME).write_text(public_hex(key.public_key()) + "\n", encoding="ascii")
    return key, True


def read_public(path: Path) -> Ed25519PublicKey:
    """A public key from a file: 64 hex digits (as ``eml keys show`` prints) or a PEM public key."""
    _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read public key: {exc.strerror or exc}", source=str(path)) from exc
    text = data.decode("ascii", "replace").strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise InputError("not an Ed25519 public key", source=str(path))
            return key
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError as exc:
        raise InputError("expected 64 hex digits or a PEM Ed25519 public key", source=str(path)) from exc


def public_from_hex(text: str) -> Ed25519PublicKey:
    _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
