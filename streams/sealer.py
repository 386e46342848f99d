"""The pipeline's seal key: signs each closed recording's chain head (``schemas/seal.py``)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import seal as seals
from schemas.records import RecordingSeal, RecordingStateName, RecordingSummary, ServiceKey, utcnow
from schemas.signing import load_private_key, public_key_hex, write_key_pair

log = logging.getLogger(__name__)


def create_key(path: Path, overwrite: bool = False) -> Ed25519PrivateKey:
    """Write a new key pair (``path`` and ``path.pub``), private key 0600 from the first byte."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; use --force to replace it (published seals keep their old key id)")
    return write_key_pair(path, path.with_suffix(".pub"))


def load_or_create(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return load_private_key(path.read_bytes())
    log.warning("no seal key at %s: created one; its public key is published on bwv.service-keys", path)
    return create_key(path)


def needs_seal(summary: RecordingSummary) -> bool:
    """Closed, not deleted, and holding something its latest seal does not cover."""
    return (
        summary.closed_reason is not None
        and summary.state is not RecordingStateName.deleted
        and summary.chain_head is not None
        and (summary.sealed_segment_count, summary.sealed_chain_head) != (summary.segment_count, summary.chain_head)
    )


class Sealer:
    def __init__(self, key_file: Path) -> None:
        self.key = load_or_create(key_file)
        self.public_key = public_key_hex(self.key)
        self.key_id = seals.key_id(self.public_key)

    def seal(self, summary: RecordingSummary) -> RecordingSeal:
        assert summary.chain_head is not None
        unsigned = RecordingSeal(
            recording_id=summary.recording_id,
            camera_id=summary.camera_id,
            segment_count=summary.segment_count,
            last_sequence=summary.last_sequence,
            chain_head=summary.chain_head,
            sealed_at=utcnow(),
        )
        return seals.signed(unsigned, self.key)

    def service_key(self) -> ServiceKey:
        return ServiceKey(key_id=self.key_id, public_key=self.public_key, published_by=socket.gethostname())
