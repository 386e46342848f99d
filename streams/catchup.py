"""A whole topic kept in memory by one group-less consumer, caught up on demand.

Used for small shared views every worker needs in full (the camera registry,
the recordings and camera-status read model): each reader assigns itself every
partition, starts at the beginning, and ``catch_up`` reads to the end offsets
of that moment, so whatever the broker had acknowledged before the call is seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from bwv.security import aiokafka_security
from bwv.settings import Settings

log = logging.getLogger(__name__)

class ReaderError(RuntimeError):
    """The topic cannot be read (broker unreachable)."""


Apply = Callable[[bytes | None, bytes | None], None]


class CatchUpReader:
    def __init__(self, settings: Settings, topics: list[str], apply: Apply, name: str) -> None:
        self.settings = settings
        self.topics = topics
        self.apply = apply
        self.name = name
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    @property
    def started(self) -> bool:
        return self._consumer is not None

    async def start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self.settings.app_id}-{self.name}",
            **aiokafka_security(self.settings),
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise ReaderError(f"cannot reach Kafka at {self.settings.kafka_bootstrap} ({exc}); check BWV_KAFKA_BOOTSTRAP") from None
        self._consumer = consumer
        await self.catch_up()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self) -> None:
        """Apply every record up to the topics' current ends."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError(f"{self.name} reader not started")
        if not self._partitions and not await self._assign(consumer):
            return
        # Partitions stay paused between catch-ups. A broker answers one
        # connection's requests in order, so an idle consumer's parked long-poll
        # fetch (up to fetch_max_wait_ms, 500 ms) would hold this ListOffsets
        # back: ~0.3 s per ingest batch, measured (python -m bench ingest).
        ends = await consumer.end_offsets(self._partitions)
        behind = [tp for tp in self._partitions if await consumer.position(tp) < ends[tp]]
        if not behind:
            return
        consumer.resume(*behind)
        try:
            while behind:
                batch = await consumer.getmany(*behind, timeout_ms=500)
                for messages in batch.values():
                    for message in messages:
                        self.apply(message.key, message.value)
                behind = [tp for tp in behind if await consumer.position(tp) < ends[tp]]
        finally:
            consumer.pause(*self._partitions)

    async def _assign(self, consumer: AIOKafkaConsumer) -> bool:
        await consumer.topics()  # refreshes metadata
        found = [
            TopicPartition(topic, p) for topic in self.topics for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not found:
            log.warning("topics %s do not exist yet (run bwv init)", ", ".join(self.topics))
            return False
        self._partitions = found
        consumer.assign(found)
        consumer.pause(*found)  # fetched only inside catch_up (see there)
        await consumer.seek_to_beginning(*found)
        return True
