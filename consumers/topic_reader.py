"""Reads a bwv topic from the beginning without joining a consumer group.

For subscribers trying a topic out, audits and tests: assigning partitions
directly needs no group coordination and leaves no committed offsets behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from bwv.security import kafka_python_security
from bwv.settings import Settings


@dataclass(frozen=True)
class TopicMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int


def read_topic(
    settings: Settings, topic: str, *, idle_timeout: float = 1.0, follow: bool = False, max_bytes: int | None = None
) -> Iterator[TopicMessage]:
    """Every message of ``topic``; stops after ``idle_timeout`` s of silence unless ``follow``."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        enable_auto_commit=False,
        group_id=None,
        client_id="bwv-reader",
        max_partition_fetch_bytes=max_bytes or (settings.max_segment_bytes + 1024 * 1024),
        fetch_max_bytes=max(52_428_800, 2 * (max_bytes or settings.max_segment_bytes)),
        **kafka_python_security(settings),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        last = time.monotonic()
        while follow or time.monotonic() - last < idle_timeout:
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    last = time.monotonic()
                    yield TopicMessage(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []), r.timestamp)
    finally:
        consumer.close()
