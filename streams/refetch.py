"""Reads a range of one partition again: how ingest recovers a segment the consumer skipped.

Faust can skip fetched messages around rebalances and back-pressure (observed
here: a few segments of one recording never reached the ingest agent while later
ones did, and the committed offset moved past them). When ingest sees a gap in a
recording whose previous segment came from the same partition, the missing ones
can only be between the two offsets: this reads exactly that range, with a
group-less consumer (nothing committed, the workers' group untouched).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from bwv.security import aiokafka_security
from bwv.settings import Settings
from schemas.topics import MESSAGE_OVERHEAD_BYTES

READ_SECONDS = 15.0  # the ingest batch waits for this read: long enough for a loaded broker, bounded


@dataclass(frozen=True)
class Refetched:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


async def read_range(settings: Settings, topic: str, partition: int, start: int, end: int) -> list[Refetched]:
    """Messages with ``start <= offset < end`` of one partition, in offset order."""
    if end <= start:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        client_id=f"{settings.app_id}-gap-repair",
        max_partition_fetch_bytes=settings.max_segment_bytes + MESSAGE_OVERHEAD_BYTES,
        **aiokafka_security(settings),
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        found: list[Refetched] = []
        # The range is below a message already read, so it is there: an empty fetch means a slow
        # broker, not the end. Read until the position passes the range (offsets may have holes),
        # or until the deadline; what is still missing then stays an alerted gap.
        deadline = asyncio.get_running_loop().time() + READ_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for r in batch.get(tp, []):
                if r.offset >= end:
                    return found
                found.append(Refetched(partition, r.offset, r.key, r.value, list(r.headers or [])))
            if await consumer.position(tp) >= end:
                return found
        return found
    finally:
        await consumer.stop()
