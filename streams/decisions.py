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

TS_PACKET = 188
TS_SYNC = 0x47


def is_mpegts(data: bytes) -> bool:
    """Every 188-byte packet starts with the sync byte: cheap proof the body is a TS stream.

    Whether the pictures inside decode is another question (a decode failure is
    still footage as the camera sent it); this only refuses bodies that are not
    video at all.
    """
    if len(data) < TS_PACKET or len(data) % TS_PACKET:
        return False
    syncs = data[::TS_PACKET]
    return syncs.count(TS_SYNC) == len(syncs)


@dataclass(frozen=True)
class Limits:
    max_segment_bytes: int
    max_sequence_jump: int


@dataclass(frozen=True)
class Observed:
    """What the worker measured of a message, as opposed to what its header claims."""

    sha256: str
    size: int
    is_video: bool
    partition: int = -1
    offset: int = -1


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
    # Where the message that last advanced this state sat: a redelivery after a
    # crash comes from at or before it, a replay by a sender from after it.
    last_partition: int = -1
    last_offset: int = -1

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

    def after(self, header: SegmentHeader, new_chain: str, observed: Observed | None = None) -> "RecordingState":
        return replace(
            self,
            last_sequence=header.sequence,
            chain=new_chain,
            segments=self.segments + 1,
            bytes=self.bytes + header.byte_size,
            last_partition=observed.partition if observed else self.last_partition,
            last_offset=observed.offset if observed else self.last_offset,
        )

    def delivered_before(self, observed: Observed) -> bool:
        """True when this message is a redelivery of one already processed."""
        return observed.partition == self.last_partition and 0 <= observed.offset <= self.last_offset


class Action(str, Enum):
    STORE = "store"  # next segment (possibly after a gap): extend the chain, store it
    QUARANTINE = "quarantine"  # body does not match the camera's hash or size
    DUPLICATE = "duplicate"  # sequence already stored: compare with what is stored
    REDELIVERED = "redelivered"  # the same message again after a restart: nothing to do
    REJECT = "reject"  # refused outright: dead letter + alert


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""  # for REJECT: a stable reason code
    detail: str = ""
    gap: tuple[int, int] | None = None  # missing sequence numbers, inclusive
    chain: str | None = None  # chain value after this segment, for STORE


def _reject(reason: str, detail: str) -> Decision:
    return Decision(Action.REJECT, reason, detail)


def decide(state: RecordingState | None, header: SegmentHeader, seen: Observed, limits: Limits) -> Decision:
    """The ingest rule for one segment, given its recording's state (None: first seen)."""
    if state is not None and state.camera_id != header.camera_id:
        return _reject(
            "recording_reused",
            f"recording {header.recording_id} belongs to camera {state.camera_id}, not {header.camera_id}",
        )
    if seen.size > limits.max_segment_bytes:
        return _reject("segment_too_large", f"{seen.size:,} bytes is over the {limits.max_segment_bytes:,}-byte limit")
    if not seen.is_video:
        return _reject("not_video", f"the {seen.size:,}-byte body is not an MPEG-TS stream")
    current = state or RecordingState.empty(header)
    if header.sequence > current.last_sequence + limits.max_sequence_jump:
        return _reject(
            "sequence_too_far",
            f"sequence {header.sequence} is more than {limits.max_sequence_jump} past the last stored "
            f"({current.last_sequence})",
        )
    if seen.size != header.byte_size:
        return Decision(Action.QUARANTINE, detail=f"size {seen.size} differs from the header's {header.byte_size}")
    if seen.sha256 != header.sha256:
        return Decision(Action.QUARANTINE, detail=f"SHA-256 {seen.sha256} differs from the camera's {header.sha256}")
    if header.sequence <= current.last_sequence:
        if current.delivered_before(seen):
            return Decision(Action.REDELIVERED)
        return Decision(Action.DUPLICATE, detail=f"sequence {header.sequence} already stored")
    expected = current.last_sequence + 1
    gap = (expected, header.sequence - 1) if header.sequence > expected else None
    return Decision(Action.STORE, gap=gap, chain=chain.link(current.chain, seen.sha256, header))
