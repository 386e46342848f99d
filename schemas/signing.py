"""Camera signatures: how a camera proves a segment came from it (the contract).

A camera signs the exact bytes of the one bwv record header of a message
(``bwv-segment`` or ``bwv-recording-end``) with its Ed25519 key and sends the raw
64-byte signature in the ``bwv-signature`` header. The segment header carries the
SHA-256 of the video bytes, so the signature covers the footage too: changing a
byte of video breaks the hash, changing the header breaks the signature.

Anyone can check a message with a standard Ed25519 verifier, the camera's public
key (32 raw bytes, hex in the registry) and the two header values.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_HEADER = "bwv-signature"
SIGNATURE_BYTES = 64


class KeyFormatError(ValueError):
    """A key file or value that is not an Ed25519 key in a format we read."""


def sign(private_key: Ed25519PrivateKey, payload: bytes) -> bytes:
    return private_key.sign(payload)


def verify(public_key_hex: str, payload: bytes, signature: bytes) -> bool:
    """True only for a valid signature of ``payload`` by that key; never raises on bad input."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(signature, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def parse_public_key(data: bytes) -> str:
    """A public key as hex, from a PEM (SubjectPublicKeyInfo) file or 64 hex characters."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except ValueError as exc:
            raise KeyFormatError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError(f"a {type(key).__name__.removeprefix('_')} key, not Ed25519")
        return public_key_hex(key)
    try:
        raw = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raw = b""
    if len(raw) != 32:
        raise KeyFormatError("expected a PEM Ed25519 public key or 64 hex characters")
    return raw.hex()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"a {type(key).__name__.removeprefix('_')} key, not Ed25519")
    return key


def write_key_pair(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """A new key pair on disk: the private key 0600 from its first byte (never readable by others,
    not even briefly), the public key PEM beside it."""
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_pem(key))
    public_path.write_bytes(public_key_pem(key))
    return key
