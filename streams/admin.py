"""Creates what the pipeline needs before it runs: topics and buckets. Idempotent."""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from bwv.security import kafka_python_security
from bwv.settings import Settings
from schemas.topics import TopicSpec, topic_table
from streams.objectstore import ObjectStore


class AdminError(RuntimeError):
    pass


def create_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics with their configs; returns the names created."""
    specs = specs or topic_table(settings.segment_partitions, settings.max_segment_bytes)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap.split(","), client_id="bwv-init", **kafka_python_security(settings)
        )
    except KafkaError as exc:
        raise AdminError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, replication_factor=-1, topic_configs=spec.config())]
                )
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another init: fine
        return [s.name for s in missing]
    finally:
        admin.close()


def init_all(settings: Settings) -> tuple[list[str], list[str]]:
    """Topics and buckets; returns (topics created, buckets created)."""
    topics = create_topics(settings)
    buckets = ObjectStore(settings).ensure_buckets()
    return topics, buckets
