"""Publishes segments to bwv.segments: raw bytes as the value, one header record.

kafka-python with acks=all and idempotence, keyed by camera id so a camera's
segments stay in order on one partition. The size limit is ours to enforce
(some brokers ignore ``max.message.bytes``), and a refusal says what to change.
"""

from __future__ import annotations

import logging

from kafka import KafkaProducer
from kafka.errors import KafkaError

from bwv.settings import Settings
from producers.errors import PublishError, SegmentTooLarge
from producers.keys import KeyRing
from schemas.headers import encode_headers
from schemas.records import RecordingEnd, SegmentHeader
from schemas.topics import MESSAGE_OVERHEAD_BYTES, SEGMENTS

log = logging.getLogger(__name__)


class SegmentPublisher:
    def __init__(self, settings: Settings, keys: KeyRing | None = None) -> None:
        self.max_segment_bytes = settings.max_segment_bytes
        # Every message is signed with its camera's key (see schemas.signing).
        self.keys = keys or KeyRing(settings.camera_keys_dir)
        request_limit = settings.max_segment_bytes + MESSAGE_OVERHEAD_BYTES
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=settings.kafka_bootstrap.split(","),
                client_id="bwv-camera",
                acks="all",
                enable_idempotence=True,
                max_request_size=request_limit,
                linger_ms=5,
                retries=2**31 - 1,
                delivery_timeout_ms=120_000,
                request_timeout_ms=30_000,
            )
            self._pending: list = []
        except KafkaError as exc:
            raise PublishError(
                f"cannot reach the Kafka broker at {settings.kafka_bootstrap} ({exc}); "
                "check BWV_KAFKA_BOOTSTRAP and that the broker runs"
            ) from None

    def check_size(self, header: SegmentHeader, size: int) -> None:
        if size > self.max_segment_bytes:
            raise SegmentTooLarge(
                f"segment {header.sequence} of recording {header.recording_id} is {size:,} bytes, "
                f"over the {self.max_segment_bytes:,}-byte limit (BWV_MAX_SEGMENT_BYTES); "
                "use shorter segments (BWV_SEGMENT_SECONDS) or a lower bitrate"
            )

    def publish(self, header: SegmentHeader, data: bytes) -> None:
        """Queue one segment; ``flush`` waits for the broker's acknowledgement."""
        self.check_size(header, len(data))
        if header.byte_size != len(data):
            raise PublishError(
                f"header says {header.byte_size} bytes but the segment has {len(data)}"
            )
        self._send(header.camera_id, data, encode_headers(header, self.keys.private(header.camera_id)))

    def publish_end(self, end: RecordingEnd) -> None:
        self._send(end.camera_id, b"", encode_headers(end, self.keys.private(end.camera_id)))

    def _send(self, camera_id: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self._pending.append(
            self._producer.send(SEGMENTS, key=camera_id.encode(), value=value, headers=headers)
        )

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every queued message; raise if the broker refused any of them."""
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise PublishError(f"the broker did not acknowledge every segment: {exc}") from None
        failed = [f.exception for f in self._pending if f.failed()]
        self._pending.clear()
        if failed:
            raise PublishError(f"{len(failed)} message(s) were not acknowledged: {failed[0]}")

    def close(self) -> None:
        self._producer.close()
