"""The per-recording audit hash chain (the contract; recomputable with hashlib and json alone).

``h_0 = SHA-256("bwv-audit-v1\\n" ‖ recording_id)``;
``h_i = SHA-256(h_{i-1} ‖ canonical(event_i))``, digests raw 32 bytes,
``canonical`` the event's JSON with sorted keys, no spaces, UTF-8, times as
ISO 8601 UTC with microseconds and ``Z``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from schemas.chain import iso_utc
from schemas.records import AuditRecord, CustodyEvent

GENESIS_PREFIX = b"bwv-audit-v1\n"
SYSTEM = "system"  # the chain of events that concern no one recording


def genesis(recording_id: str) -> str:
    return hashlib.sha256(GENESIS_PREFIX + recording_id.encode()).hexdigest()


def canonical(event: CustodyEvent) -> bytes:
    fields = event.model_dump(mode="json")
    fields["at"] = iso_utc(event.at)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: str, event: CustodyEvent) -> str:
    h = hashlib.sha256(bytes.fromhex(previous))
    h.update(canonical(event))
    return h.hexdigest()


def seal(recording_id: str, index: int, previous: str, event: CustodyEvent) -> AuditRecord:
    return AuditRecord(recording_id=recording_id, index=index, event=event, previous_hash=previous, hash=link(previous, event))


@dataclass(frozen=True)
class ChainProblem:
    index: int
    why: str


def check(recording_id: str, records: list[AuditRecord]) -> list[ChainProblem]:
    """Every break in a recording's audit chain, in order; empty when intact."""
    problems = []
    previous = genesis(recording_id)
    for position, record in enumerate(records):
        if record.index != position:
            problems.append(ChainProblem(position, f"record {record.index} found where {position} belongs (removed or reordered)"))
        if record.previous_hash != previous:
            problems.append(ChainProblem(position, "does not follow the record before it"))
        if link(record.previous_hash, record.event) != record.hash:
            problems.append(ChainProblem(position, "its event was altered (hash mismatch)"))
        previous = record.hash
    return problems
