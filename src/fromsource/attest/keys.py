"""Ed25519 key files: generate, load a signer, load a trusted public key.

Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public) so any tool can read them;
securesystemslib turns them into the signer and key objects DSSE needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.signer import CryptoSigner, SSlibKey

from fromsource.errors import KeyFileError
from fromsource.fileutil import atomic_write_bytes
from fromsource.untrusted import MAX_KEY_BYTES, read_file

PRIVATE_KEY_NAME = "builder.key"
PUBLIC_KEY_NAME = "builder.pub"


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_path: Path
    public_path: Path
    keyid: str


def generate_keypair(directory: Path, stem: str = "builder") -> KeyPair:
    """Write ``<stem>.key`` (mode 0600) and ``<stem>.pub`` into ``directory``.

    Refuses to overwrite an existing key: losing a private key silently is never wanted.
    """
    private_path = directory / f"{stem}.key"
    public_path = directory / f"{stem}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} already exists; refusing to overwrite a key")
    directory.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    atomic_write_bytes(private_path, private_pem, mode=0o600)
    atomic_write_bytes(public_path, public_pem)
    return KeyPair(private_path, public_path, public_key_from_crypto(private_key.public_key()).keyid)


def public_key_from_crypto(key: Ed25519PublicKey) -> SSlibKey:
    return SSlibKey.from_crypto(key)


def load_signer(path: Path) -> CryptoSigner:
    """A DSSE signer from an ed25519 private key PEM file."""
    data = _read(path, "private key")
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an ed25519 key; only ed25519 is supported")
    return CryptoSigner(private_key, public_key_from_crypto(private_key.public_key()))


def load_public_key(path: Path) -> SSlibKey:
    """A trusted public key from a PEM file (a private key file is refused: pass the .pub)."""
    data = _read(path, "public key")
    try:
        public_key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key: {exc}") from exc
    if not isinstance(public_key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an ed25519 public key; only ed25519 is supported")
    return public_key_from_crypto(public_key)


def _read(path: Path, what: str) -> bytes:
    return read_file(path, limit=MAX_KEY_BYTES, what=what, error=KeyFileError)
