"""The per-recording hash chain: the tamper-evidence contract.

``chain_0 = SHA-256("bwv-chain-v1\\n" ‖ recording_id)`` and for segment i
``chain_i = SHA-256(chain_{i-1} ‖ sha256_i ‖ canonical_metadata_i)``, all hashes as
raw 32-byte digests. ``canonical_metadata`` is the UTF-8 JSON object below with
sorted keys, no spaces, times as ISO 8601 UTC with microseconds and ``Z``.
Any altered, missing, reordered or inserted segment changes every later value.
A third party can recompute it with Python's hashlib and json alone.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from schemas.records import SegmentHeader

GENESIS_PREFIX = b"bwv-chain-v1\n"
CANONICAL_FIELDS = (
    "camera_id",
    "officer_id",
    "recording_id",
    "sequence",
    "capture_start",
    "capture_end",
    "codec",
    "byte_size",
)


def iso_utc(value: datetime) -> str:
    """The one textual form of a time inside the chain."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def genesis(recording_id: str) -> str:
    return hashlib.sha256(GENESIS_PREFIX + recording_id.encode()).hexdigest()


def canonical_metadata(header: SegmentHeader) -> bytes:
    fields = {
        "camera_id": header.camera_id,
        "officer_id": header.officer_id,
        "recording_id": header.recording_id,
        "sequence": header.sequence,
        "capture_start": iso_utc(header.capture_start),
        "capture_end": iso_utc(header.capture_end),
        "codec": header.codec,
        "byte_size": header.byte_size,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: str, sha256: str, header: SegmentHeader) -> str:
    """The chain value after a segment whose content hash is ``sha256``."""
    h = hashlib.sha256(bytes.fromhex(previous))
    h.update(bytes.fromhex(sha256))
    h.update(canonical_metadata(header))
    return h.hexdigest()
