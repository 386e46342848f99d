"""The camera registry: which Ed25519 key each camera signs with, read from ``bwv.cameras``.

Every worker reads the whole (compacted, one-partition) topic with its own
group-less consumer, so each one knows every camera whatever partitions it owns.
Before each ingest batch the worker catches up to the topic's end: a revocation
acknowledged by the broker applies to every batch processed after it, and a
camera registered a moment before its first segment is already known.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError

from bwv.settings import Settings
from schemas.records import CameraKey
from schemas.topics import CAMERAS

log = logging.getLogger(__name__)


class RegistryError(RuntimeError):
    """The registry could not be written (broker unreachable, topic missing)."""


class CameraRegistry:
    """An in-memory copy of ``bwv.cameras``, kept current by ``catch_up``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys: dict[str, CameraKey] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    def get(self, camera_id: str) -> CameraKey | None:
        return self.keys.get(camera_id)

    async def start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self.settings.app_id}-camera-registry",
        )
        await consumer.start()
        self._consumer = consumer
        await self.catch_up()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self) -> None:
        """Read every registry record up to the topic's current end."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("registry not started")
        if not self._partitions and not await self._assign(consumer):
            return
        ends = await consumer.end_offsets(self._partitions)
        for tp in self._partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=500)
                for message in batch.get(tp, []):
                    self._apply(message.key, message.value)

    async def _assign(self, consumer: AIOKafkaConsumer) -> bool:
        await consumer.topics()  # refreshes metadata
        partitions = consumer.partitions_for_topic(CAMERAS) or set()
        if not partitions:
            log.warning("topic %s does not exist yet (run bwv init): no camera is registered", CAMERAS)
            return False
        self._partitions = [TopicPartition(CAMERAS, p) for p in sorted(partitions)]
        consumer.assign(self._partitions)
        await consumer.seek_to_beginning(*self._partitions)
        return True

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if not value:  # a tombstone forgets the camera
            if key:
                self.keys.pop(key.decode("utf-8", "replace"), None)
            return
        try:
            record = CameraKey.from_json(value)
        except ValidationError as exc:
            log.warning("ignored an unreadable %s record: %s", CAMERAS, exc.errors()[0]["msg"])
            return
        self.keys[record.camera_id] = record


def publish_camera_key(settings: Settings, record: CameraKey) -> None:
    """Write a registration or revocation and wait until the broker has it (acks=all)."""
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all", client_id="bwv-cameras"
        )
    except KafkaError as exc:
        raise RegistryError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None
    try:
        producer.send(CAMERAS, key=record.camera_id.encode(), value=record.to_json()).get(timeout=30)
    except KafkaError as exc:
        raise RegistryError(f"the registry did not take the record ({exc}); has `bwv init` been run?") from None
    finally:
        producer.close()
