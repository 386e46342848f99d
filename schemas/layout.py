"""Object key layout in S3: everything of a recording lives under one prefix.

One prefix per recording makes deletion and export a single listing, and the
zero-padded sequence makes a listing come back in recording order.
"""

from __future__ import annotations


def recording_prefix(recording_id: str) -> str:
    return f"recordings/{recording_id}/"


def segment_key(recording_id: str, sequence: int) -> str:
    return f"recordings/{recording_id}/segments/{sequence:08d}.ts"


def segments_prefix(recording_id: str) -> str:
    return f"recordings/{recording_id}/segments/"


def thumbnails_prefix(recording_id: str) -> str:
    return f"recordings/{recording_id}/thumbnails/"


def thumbnail_key(recording_id: str, sequence: int) -> str:
    return f"recordings/{recording_id}/thumbnails/{sequence:08d}.jpg"


def quarantine_key(recording_id: str, sequence: int, sha256: str) -> str:
    """Content-addressed, so two different bad bodies for one slot never collide."""
    return f"quarantine/{recording_id}/{sequence:08d}-{sha256}.ts"


def sequence_of(key: str) -> int:
    """The sequence number a segment key names (raises ValueError if it names none)."""
    name = key.rsplit("/", 1)[-1]
    stem = name.split(".", 1)[0].split("-", 1)[0]
    return int(stem)


def rejected_key(topic: str, partition: int, offset: int, sha256: str) -> str:
    """Where the bytes of a refused message are kept (no trusted ids to file them by)."""
    return f"rejected/{topic}/{partition:05d}/{offset:012d}-{sha256}.bin"


def seal_key(recording_id: str) -> str:
    """The recording's signed chain head (RecordingSeal JSON)."""
    return f"recordings/{recording_id}/seal.json"
