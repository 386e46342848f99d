"""What the pipeline has published that a verifier relies on: seal keys and recording summaries."""

from __future__ import annotations

from bwv.settings import Settings
from consumers.topic_reader import read_topic
from schemas.records import AuditRecord, RecordingSummary, ServiceKey
from schemas.topics import AUDIT, RECORDINGS, SERVICE_KEYS


def published_keys(settings: Settings) -> dict[str, str]:
    """key id -> public key (hex) of every seal key on bwv.service-keys."""
    keys = {}
    for message in read_topic(settings, SERVICE_KEYS, idle_timeout=0.5):
        if message.value:
            key = ServiceKey.from_json(message.value)
            keys[key.key_id] = key.public_key
    return keys


def latest_summary(settings: Settings, recording_id: str) -> RecordingSummary | None:
    found = None
    for message in read_topic(settings, RECORDINGS, idle_timeout=0.5):
        if message.value and (message.key or b"").decode() == recording_id:
            found = RecordingSummary.from_json(message.value)
    return found


def audit_trail(settings: Settings, recording_id: str) -> list[AuditRecord]:
    """A recording's audit records in chain order."""
    records = [
        AuditRecord.from_json(m.value)
        for m in read_topic(settings, AUDIT, idle_timeout=0.5)
        if m.value and (m.key or b"").decode() == recording_id
    ]
    return sorted(records, key=lambda r: r.index)
