"""What to do with one incoming segment, decided from state alone (no I/O).

Kept pure so that every rule of the ingest boundary is unit- and property-tested:
the agent only carries the decision out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import Enum

from schemas import chain
from schemas.records import SegmentHeader


@dataclass(frozen=True)
class RecordingState:
    """What a worker remembers of a recording between segments (table value)."""

    recording_id: str
    camera_id: str
    officer_id: str
    last_sequence: int
    chain: str
    segments: int
    bytes: int
    ended: bool = False
    expected_segments: int | None = None

    @classmethod
    def empty(cls, header: SegmentHeader) -> "RecordingState":
        return cls(
            recording_id=header.recording_id,
            camera_id=header.camera_id,
            officer_id=header.officer_id,
            last_sequence=-1,
            chain=chain.genesis(header.recording_id),
            segments=0,
            bytes=0,
        )

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "RecordingState":
        return cls(**json.loads(data))

    def after(self, header: SegmentHeader, new_chain: str) -> "RecordingState":
        return replace(
            self,
            last_sequence=header.sequence,
            chain=new_chain,
            segments=self.segments + 1,
            bytes=self.bytes + header.byte_size,
        )


class Action(str, Enum):
    STORE = "store"  # next segment (possibly after a gap): extend the chain, store it
    QUARANTINE = "quarantine"  # body does not match the camera's hash or size
    DUPLICATE = "duplicate"  # sequence already stored: compare with what is stored
    REJECT = "reject"  # refused outright (dead letter)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    gap: tuple[int, int] | None = None  # missing sequence numbers, inclusive
    chain: str | None = None  # chain value after this segment, for STORE

    @property
    def ok(self) -> bool:
        return self.action is Action.STORE


def decide(state: RecordingState | None, header: SegmentHeader, sha256: str, size: int) -> Decision:
    """The ingest rule for one segment, given its recording's state (None: first seen)."""
    if state is not None and state.camera_id != header.camera_id:
        return Decision(
            Action.REJECT,
            f"recording {header.recording_id} belongs to camera {state.camera_id}, not {header.camera_id}",
        )
    if size != header.byte_size:
        return Decision(Action.QUARANTINE, f"size {size} differs from the header's {header.byte_size}")
    if sha256 != header.sha256:
        return Decision(Action.QUARANTINE, f"SHA-256 {sha256} differs from the camera's {header.sha256}")
    current = state or RecordingState.empty(header)
    if header.sequence <= current.last_sequence:
        return Decision(Action.DUPLICATE, f"sequence {header.sequence} already stored")
    expected = current.last_sequence + 1
    gap = (expected, header.sequence - 1) if header.sequence > expected else None
    return Decision(Action.STORE, gap=gap, chain=chain.link(current.chain, sha256, header))
