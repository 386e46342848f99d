"""Small metadata records sent from outside the worker (CLI, control room), acknowledged.

One short-lived kafka-python producer per call, acks=all: these are operator
actions, a handful per minute, and each must be on the broker before the
caller reports success. Async callers run ``send_records`` in a thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from bwv.security import kafka_python_security
from bwv.settings import Settings
from schemas.records import Record


class SendError(RuntimeError):
    """The broker did not take a record; the message says why."""


def send_records(settings: Settings, topic: str, records: Iterable[tuple[str, Record]], client_id: str = "bwv-cli") -> None:
    """Send (key, record) pairs in order and wait until the broker has all of them."""
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all", client_id=client_id, **kafka_python_security(settings)
        )
    except KafkaError as exc:
        raise SendError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None
    try:
        futures = [producer.send(topic, key=key.encode(), value=record.to_json()) for key, record in records]
        for future in futures:
            future.get(timeout=30)
    except KafkaError as exc:
        raise SendError(f"{topic} did not take the record ({exc}); has `bwv init` been run?") from None
    finally:
        producer.close()
