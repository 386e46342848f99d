"""Signed chain heads ("seals"): the contract a verifier checks a recording's end against.

The hash chain alone catches accidents, not someone who rewrites the whole
chain, and it cannot see a recording cut short at its end. When a recording
closes, the pipeline signs what it holds — how many segments, the last
sequence, the chain head — with its Ed25519 service key:

``signature = Ed25519(canonical JSON of the fields below, sorted keys, no spaces, UTF-8)``

Fields: ``format`` ("bwv-seal-v1"), ``recording_id``, ``camera_id``,
``segment_count``, ``last_sequence``, ``chain_head``, ``sealed_at`` (ISO 8601
UTC, microseconds, ``Z``) and ``key_id`` (the first 16 hex digits of SHA-256 of
the raw 32-byte public key). Public keys are published on ``bwv.service-keys``.
"""

from __future__ import annotations

import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.chain import iso_utc
from schemas.records import RecordingSeal
from schemas.signing import public_key_hex, sign, verify

FORMAT = "bwv-seal-v1"


def key_id(public_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def payload(seal: RecordingSeal) -> bytes:
    fields = {
        "format": FORMAT,
        "recording_id": seal.recording_id,
        "camera_id": seal.camera_id,
        "segment_count": seal.segment_count,
        "last_sequence": seal.last_sequence,
        "chain_head": seal.chain_head,
        "sealed_at": iso_utc(seal.sealed_at),
        "key_id": seal.key_id,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed(seal: RecordingSeal, key: Ed25519PrivateKey) -> RecordingSeal:
    """The seal with ``key_id``, ``public_key`` and ``signature`` filled in."""
    public = public_key_hex(key)
    unsigned = seal.model_copy(update={"key_id": key_id(public), "public_key": public})
    return unsigned.model_copy(update={"signature": sign(key, payload(unsigned)).hex()})


def valid(seal: RecordingSeal, public_hex: str) -> bool:
    """The signature verifies with ``public_hex`` and names that key."""
    if key_id(public_hex) != seal.key_id:
        return False
    try:
        signature = bytes.fromhex(seal.signature)
    except ValueError:
        return False
    return verify(public_hex, payload(seal), signature)
