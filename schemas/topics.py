"""The topic table: every bwv topic, its key, value record and configuration.

``bwv init`` creates topics from this table, the worker declares them from it,
and the Kubernetes KafkaTopic resources are generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.records import (
    Alert,
    ServiceKey,
    IndexTick,
    AuditRecord,
    CustodyEvent,
    Deletion,
    EvidenceCommand,
    CameraKey,
    CameraStatus,
    DeadLetter,
    QuarantinedSegment,
    RecordingEnded,
    RecordingSummary,
    Thumbnail,
    Record,
    StoredSegment,
)

DAY_MS = 86_400_000
# Framing overhead a broker adds around one record (batch header, headers, key).
MESSAGE_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    value: type[Record] | None
    value_doc: str
    partitions: int
    cleanup_policy: str = "delete"
    retention_ms: int = 7 * DAY_MS
    max_message_bytes: int = 1024 * 1024
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        cfg = {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(self.max_message_bytes),
        }
        cfg.update(self.extra_config)
        return cfg


SEGMENTS = "bwv.segments"
SEGMENTS_STORED = "bwv.segments.stored"
ALERTS = "bwv.alerts"
DEAD_LETTERS = "bwv.deadletter"
CAMERAS = "bwv.cameras"
SEGMENTS_QUARANTINED = "bwv.segments.quarantined"
RECORDINGS_ENDED = "bwv.recordings.ended"
THUMBNAILS = "bwv.thumbnails"
RECORDINGS = "bwv.recordings"
CAMERA_STATUS = "bwv.camera-status"
COMMANDS = "bwv.commands"
CUSTODY = "bwv.custody"
AUDIT = "bwv.audit"
DELETIONS = "bwv.deletions"
INDEX_TICKS = "bwv.index.ticks"
SERVICE_KEYS = "bwv.service-keys"


def topic_table(segment_partitions: int, max_segment_bytes: int) -> list[TopicSpec]:
    """All topics. Metadata topics share the segments' partition count so that
    keys (camera ids) land on the same partition number everywhere."""
    return [
        TopicSpec(
            SEGMENTS,
            key="camera id",
            value=None,
            value_doc="raw segment bytes (MPEG-TS); metadata in the bwv-segment header "
            "(SegmentHeader) or, for an end marker with empty value, bwv-recording-end (RecordingEnd)",
            partitions=segment_partitions,
            retention_ms=1 * DAY_MS,
            max_message_bytes=max_segment_bytes + MESSAGE_OVERHEAD_BYTES,
        ),
        TopicSpec(
            SEGMENTS_STORED,
            key="camera id",
            value=StoredSegment,
            value_doc="StoredSegment",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            SEGMENTS_QUARANTINED,
            key="camera id",
            value=QuarantinedSegment,
            value_doc="QuarantinedSegment",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            RECORDINGS_ENDED,
            key="camera id",
            value=RecordingEnded,
            value_doc="RecordingEnded",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            THUMBNAILS,
            key="camera id",
            value=Thumbnail,
            value_doc="Thumbnail",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            # The latest summary of every recording: a subscriber reads it whole.
            RECORDINGS,
            key="recording id",
            value=RecordingSummary,
            value_doc="RecordingSummary",
            partitions=segment_partitions,
            cleanup_policy="compact",
            retention_ms=-1,
        ),
        TopicSpec(
            CAMERA_STATUS,
            key="camera id",
            value=CameraStatus,
            value_doc="CameraStatus",
            partitions=segment_partitions,
            cleanup_policy="compact",
            retention_ms=-1,
        ),
        TopicSpec(
            COMMANDS,
            key="camera id",
            value=EvidenceCommand,
            value_doc="EvidenceCommand",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            CUSTODY,
            key="camera id (or 'system')",
            value=CustodyEvent,
            value_doc="CustodyEvent",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            # The record of custody outlives the footage it describes.
            AUDIT,
            key="recording id",
            value=AuditRecord,
            value_doc="AuditRecord",
            partitions=segment_partitions,
            retention_ms=-1,
        ),
        TopicSpec(
            DELETIONS,
            key="camera id",
            value=Deletion,
            value_doc="Deletion",
            partitions=segment_partitions,
            retention_ms=-1,
        ),
        TopicSpec(
            # Internal to the workers: a timer's tick per partition, so that the
            # index's periodic work is ordered with that partition's events.
            INDEX_TICKS,
            key="'tick'",
            value=IndexTick,
            value_doc="IndexTick",
            partitions=segment_partitions,
            retention_ms=3_600_000,
        ),
        TopicSpec(
            # Verifiers read the seal keys from here; one partition, kept forever.
            SERVICE_KEYS,
            key="key id",
            value=ServiceKey,
            value_doc="ServiceKey",
            partitions=1,
            cleanup_policy="compact",
            retention_ms=-1,
        ),
        TopicSpec(
            ALERTS,
            key="alert dedup key",
            value=Alert,
            value_doc="Alert",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            DEAD_LETTERS,
            key="original message key",
            value=DeadLetter,
            value_doc="DeadLetter",
            partitions=segment_partitions,
            retention_ms=31 * DAY_MS,
        ),
        TopicSpec(
            # Every worker reads all of it (a small registry), so one partition:
            # one total order of registrations and revocations.
            CAMERAS,
            key="camera id",
            value=CameraKey,
            value_doc="CameraKey",
            partitions=1,
            cleanup_policy="compact",
            retention_ms=-1,
        ),
    ]


def spec_by_name(specs: list[TopicSpec]) -> dict[str, TopicSpec]:
    return {s.name: s for s in specs}
