"""The records carried on bwv topics: one record type per topic value.

Compatibility rule: a version may only add optional fields. Readers ignore fields
they do not know (``extra="ignore"``), so an old reader keeps working on newer
records; a record whose ``schema_version`` major is unknown is refused.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _check_id(value: str) -> str:
    # Ids become parts of object keys and Kafka keys: keep them path-safe.
    if not _ID_RE.match(value):
        raise ValueError(
            "must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


# The pattern only documents the rule in the JSON Schema; _check_id enforces it (with a clearer message).
Id = Annotated[str, AfterValidator(_check_id), Field(json_schema_extra={"pattern": _ID_RE.pattern})]
Sha256Hex = Annotated[str, Field(pattern=_SHA256_RE.pattern, description="lower-case hex SHA-256")]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Record(BaseModel):
    """Base of every topic record: frozen, tolerant of unknown fields, versioned."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: int = Field(1, ge=1, description="Major version of this record's schema")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str):  # type: ignore[no-untyped-def]
        return cls.model_validate_json(data)


class Location(BaseModel):
    """Where the camera was: WGS84 degrees, accuracy radius in metres, when it was measured."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=100_000, description="Radius of 68% confidence, metres")
    at: UtcTime


class SegmentHeader(Record):
    """Metadata of one video segment; travels in a Kafka header beside the raw bytes."""

    camera_id: Id
    officer_id: Id
    recording_id: Id
    sequence: int = Field(ge=0, description="0-based position of the segment in its recording")
    capture_start: UtcTime
    capture_end: UtcTime
    codec: str = Field(max_length=32, description="Video codec, e.g. h264 or hevc")
    width: int = Field(ge=1, le=16384)
    height: int = Field(ge=1, le=16384)
    fps: float = Field(ge=0, le=1000)
    byte_size: int = Field(ge=1, description="Length of the segment bytes")
    sha256: Sha256Hex = Field(description="SHA-256 of the segment bytes, computed by the camera")
    container: str = Field("mpegts", max_length=32, description="Container of the segment bytes")
    location: Location | None = Field(
        None, description="Optional: where the camera was during the segment (covered by the camera's signature)"
    )


class RecordingEnd(Record):
    """End marker a camera sends (empty message value) after a recording's last segment."""

    camera_id: Id
    recording_id: Id
    segment_count: int = Field(ge=0)
    ended_at: UtcTime


class StoredSegment(Record):
    """A segment durably stored in the footage bucket, with its place in the chain."""

    camera_id: Id
    officer_id: Id
    recording_id: Id
    sequence: int = Field(ge=0)
    capture_start: UtcTime
    capture_end: UtcTime
    codec: str
    width: int
    height: int
    fps: float
    byte_size: int
    sha256: Sha256Hex
    chain: Sha256Hex = Field(description="Chain value after this segment")
    bucket: str
    key: str
    location: Location | None = None
    stored_at: UtcTime


class QuarantinedSegment(Record):
    """A segment kept in the quarantine bucket instead of the footage: it failed a check."""

    camera_id: Id
    officer_id: Id
    recording_id: Id
    sequence: int = Field(ge=0)
    reason: str = Field(description="hash_mismatch or duplicate_conflict")
    detail: str
    capture_start: UtcTime
    capture_end: UtcTime
    sha256: Sha256Hex = Field(description="SHA-256 of the bytes received")
    bucket: str
    key: str
    at: UtcTime = Field(default_factory=utcnow)


class RecordingEnded(Record):
    """The camera closed a recording (its end marker reached the ingest agent)."""

    camera_id: Id
    recording_id: Id
    segments_sent: int = Field(ge=0, description="Segment count the camera's end marker claims")
    segments_stored: int = Field(ge=0, description="Segments stored for the recording when the marker arrived")
    ended_at: UtcTime


class Thumbnail(Record):
    """A JPEG of a stored segment's first keyframe, stored next to the footage."""

    camera_id: Id
    recording_id: Id
    sequence: int = Field(ge=0)
    bucket: str
    key: str
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    byte_size: int = Field(ge=1)
    capture_start: UtcTime
    created_at: UtcTime = Field(default_factory=utcnow)


class RecordingStateName(str, Enum):
    open = "open"
    closed = "closed"
    quarantined = "quarantined"
    deleted = "deleted"


class RecordingSummary(Record):
    """One recording as the index knows it; the latest per recording id (compacted topic)."""

    recording_id: Id
    camera_id: Id
    officer_id: Id
    state: RecordingStateName = Field(description="open, closed, or quarantined (closed with quarantined segments)")
    closed_reason: str | None = Field(None, description="end_marker or idle_timeout")
    start: UtcTime
    end: UtcTime
    segment_count: int = Field(ge=0)
    duration_seconds: float = Field(ge=0, description="Sum of the stored segments' capture durations")
    bytes: int = Field(ge=0)
    last_sequence: int = Field(-1, ge=-1)
    missing_sequences: int = Field(0, ge=0, description="Sequence numbers below the last one never stored")
    quarantined_segments: int = Field(0, ge=0)
    segments_sent: int | None = Field(None, description="From the camera's end marker")
    chain_head: Sha256Hex | None = Field(None, description="Chain value after the last stored segment")
    retention_category: str = "unmarked"
    expires_at: UtcTime | None = Field(None, description="When the footage becomes due for deletion; none while kept until released")
    retention_start: UtcTime | None = Field(None, description="Expiry counts from here instead of capture end (set by a release)")
    extended_days: float = Field(0, ge=0, description="Days added by extend commands")
    latest_thumbnail: str | None = Field(None, description="Object key of the newest thumbnail")
    legal_hold: bool = Field(False, description="Marked as evidence: every object is under an S3 legal hold")
    marked_by: str | None = Field(None, description="Who marked, released or extended it last")
    marked_reason: str | None = None
    marked_at: UtcTime | None = None
    last_command_id: str | None = Field(None, description="The last evidence command applied")
    sealed_segment_count: int | None = Field(None, description="Segment count of the latest seal (see schemas/seal.py)")
    sealed_chain_head: str | None = None
    seal_key_id: str | None = None
    sealed_at: UtcTime | None = None
    deletion_id: str | None = Field(None, description="Set once its footage was deleted (state deleted)")
    deleted_at: UtcTime | None = None
    updated_at: UtcTime = Field(default_factory=utcnow)


class CameraState(str, Enum):
    recording = "recording"
    silent = "silent"
    idle = "idle"


class CameraStatus(Record):
    """What a control room shows for one camera; the latest per camera id (compacted topic)."""

    camera_id: Id
    officer_id: Id
    state: CameraState = Field(description="recording, silent (recording but nothing arrives) or idle")
    live: bool = Field(description="A segment arrived within BWV_CAMERA_SILENT_SECONDS")
    current_recording: str | None = None
    last_capture_end: UtcTime | None = None
    last_stored_at: UtcTime | None = None
    ingest_delay_seconds: float | None = Field(None, description="Capture end to stored, for the last segment")
    latest_thumbnail: str | None = None
    location: Location | None = Field(None, description="Where the camera was at its last segment, if it says")
    updated_at: UtcTime = Field(default_factory=utcnow)


class EvidenceAction(str, Enum):
    mark = "mark"
    release = "release"
    extend = "extend"


class EvidenceCommand(Record):
    """An operator's retention decision about one recording (bwv.commands, keyed by camera id).

    ``mark`` keeps the recording (legal hold on every object) until released,
    under ``category``; ``release`` lifts the hold and restarts the normal expiry;
    ``extend`` keeps it ``days`` longer than its current expiry.
    """

    command_id: str = Field(min_length=8, max_length=64, description="Unique id: a command applied twice counts once")
    action: EvidenceAction
    recording_id: Id
    camera_id: Id
    by: str = Field(min_length=1, max_length=128, description="Operator who decided")
    reason: str = Field(min_length=1, max_length=2048, description="Why, for the record")
    category: str | None = Field(None, max_length=64, description="mark: the retention category (default evidential)")
    days: float | None = Field(None, gt=0, le=36_500, description="extend: days added to the current expiry")
    at: UtcTime = Field(default_factory=utcnow)


DetailValue = str | int | float | bool | None


class CustodyEvent(Record):
    """Something that happened to footage, or an operator did with it (bwv.custody, keyed by camera id).

    Kinds: stored, quarantined, marked, released, extended, deleted (the worker's
    own), viewed, played, exported, alert_acknowledged (from the control room and
    CLI). Events without a recording are chained under the recording id ``system``.
    """

    event_id: str = Field(min_length=8, max_length=128, description="Unique id: an event recorded twice counts once")
    kind: str = Field(min_length=1, max_length=64)
    recording_id: Id | None = None
    camera_id: Id | None = None
    actor: str = Field(min_length=1, max_length=128, description="Operator, or the service that acted")
    reason: str = Field("", max_length=2048)
    detail: dict[str, DetailValue] = Field(default_factory=dict)
    at: UtcTime = Field(default_factory=utcnow)


class AuditRecord(Record):
    """One custody event in its recording's hash chain (bwv.audit, keyed by recording id).

    ``hash = SHA-256(previous_hash ‖ canonical JSON of event)`` with raw 32-byte
    digests, the first ``previous_hash`` being ``SHA-256("bwv-audit-v1\n" ‖
    recording_id)`` (``schemas/audit.py``): a removed, edited, reordered or
    inserted record breaks every later hash.
    """

    recording_id: Id
    index: int = Field(ge=0, description="0-based position in the recording's audit chain")
    event: CustodyEvent
    previous_hash: Sha256Hex
    hash: Sha256Hex


class DeletedObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    key: str
    version_id: str | None = None
    bytes: int = Field(ge=0)
    sha256: str | None = None


class Deletion(Record):
    """The footage of an expired recording was deleted (bwv.deletions, keyed by camera id)."""

    deletion_id: str
    recording_id: Id
    camera_id: Id
    rule: str = Field(description="The retention rule that expired, e.g. 'unmarked: 31 days after capture end'")
    category: str
    expired_at: UtcTime
    deleted_at: UtcTime
    objects: list[DeletedObject]
    object_count: int = Field(ge=0)
    bytes: int = Field(ge=0)
    complete: bool = Field(description="False when storage refused part of it (a legal hold set meanwhile)")
    refused: list[str] = Field(default_factory=list, description="Keys storage refused to delete")


class RecordingSeal(Record):
    """A closed recording's chain head, signed by the pipeline (``schemas/seal.py``); stored as
    ``recordings/<id>/seal.json`` next to the footage and copied into evidence bundles."""

    recording_id: Id
    camera_id: Id
    segment_count: int = Field(ge=0, description="Segments stored when sealed")
    last_sequence: int = Field(ge=-1)
    chain_head: Sha256Hex
    sealed_at: UtcTime
    key_id: str = Field("", description="First 16 hex digits of SHA-256 of the raw public key")
    public_key: str = Field("", description="The signer's raw Ed25519 public key, hex (check it against the published keys)")
    signature: str = Field("", description="Ed25519 signature of the canonical seal, hex")


class ServiceKey(Record):
    """A public key the pipeline signs seals with (bwv.service-keys, compacted by key id)."""

    key_id: str
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    algorithm: str = "ed25519"
    published_by: str = Field(description="Host or worker that published it")
    at: UtcTime = Field(default_factory=utcnow)


class IndexTick(Record):
    """A timer's tick, sent to one partition so periodic index work runs in that partition's order."""

    kind: str = Field(description="status (silent cameras, idle recordings) or retention (expired recordings)")
    at: UtcTime = Field(default_factory=utcnow)


class Severity(str, Enum):
    info = "info"
    warning = "warning"
    critical = "critical"


class AlertState(str, Enum):
    raised = "raised"
    cleared = "cleared"


class Alert(Record):
    """Something a supervisor must look at. ``dedup_key`` is stable per condition."""

    kind: str = Field(max_length=64, description="e.g. hash_mismatch, sequence_gap, duplicate_conflict")
    severity: Severity
    state: AlertState = AlertState.raised
    dedup_key: str = Field(max_length=512)
    message: str
    reason: str | None = Field(None, description="For dead_letter alerts: the dead letter's reason code")
    camera_id: str | None = None
    recording_id: str | None = None
    sequence: int | None = None
    at: UtcTime = Field(default_factory=utcnow)


class CameraKeyState(str, Enum):
    active = "active"
    revoked = "revoked"


class CameraKey(Record):
    """A camera's registered Ed25519 public key, or its revocation (compacted by camera id).

    A revocation keeps the key it revokes, so the registry says which key stopped
    being trusted, when, by whom and why.
    """

    camera_id: Id
    state: CameraKeyState
    algorithm: str = Field("ed25519", description="Signature algorithm; only ed25519 is defined")
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$", description="Raw 32-byte Ed25519 public key, lower-case hex")
    by: str = Field(min_length=1, max_length=128, description="Operator who registered or revoked it")
    reason: str = Field("", max_length=1024)
    at: UtcTime = Field(default_factory=utcnow)


class DeadLetter(Record):
    """A message the pipeline refused, with why and its original headers."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    camera_id: str | None = Field(None, description="From the headers, when they could be read")
    recording_id: str | None = None
    sequence: int | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Original headers, bytes decoded as latin-1")
    byte_size: int
    at: UtcTime = Field(default_factory=utcnow)
