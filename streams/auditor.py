"""The audit agent: every custody event of a recording, hash-chained into ``bwv.audit``.

Custody events come from the worker itself (segments stored or quarantined,
marks, releases, extensions, deletions) and from operators' tools (views,
playbacks, exports, alert acknowledgements on ``bwv.custody``). One agent per
partition chains them per recording (``schemas.audit``), so each chain has a
single writer; the head of every chain is kept in the ``audit-chain`` table
with the offset last applied per topic, so a replay after a crash neither
skips nor repeats a link.
"""

from __future__ import annotations

import logging

import faust
from faust.types import EventT
from pydantic import BaseModel, ConfigDict

from schemas import audit
from schemas.records import CustodyEvent, QuarantinedSegment, StoredSegment
from schemas.topics import CUSTODY, SEGMENTS_QUARANTINED, SEGMENTS_STORED

log = logging.getLogger(__name__)

INGEST_ACTOR = "bwv-ingest"


class ChainHead(BaseModel):
    model_config = ConfigDict(extra="ignore")
    next_index: int = 0
    hash: str
    seen: dict[str, int] = {}


def custody_of(topic: str, value: bytes) -> CustodyEvent:
    """The custody event a message stands for (ValueError if unreadable)."""
    if topic == SEGMENTS_STORED:
        s = StoredSegment.from_json(value)
        return CustodyEvent(
            event_id=f"stored-{s.recording_id}-{s.sequence}-{s.sha256[:16]}", kind="stored", recording_id=s.recording_id,
            camera_id=s.camera_id, actor=INGEST_ACTOR,
            detail={"sequence": s.sequence, "sha256": s.sha256, "chain": s.chain, "key": s.key, "bytes": s.byte_size},
            at=s.stored_at,
        )
    if topic == SEGMENTS_QUARANTINED:
        q = QuarantinedSegment.from_json(value)
        return CustodyEvent(
            event_id=f"quarantined-{q.recording_id}-{q.sequence}-{q.sha256[:16]}", kind="quarantined",
            recording_id=q.recording_id, camera_id=q.camera_id, actor=INGEST_ACTOR, reason=q.reason,
            detail={"sequence": q.sequence, "sha256": q.sha256, "key": q.key, "bucket": q.bucket}, at=q.at,
        )
    return CustodyEvent.from_json(value)


class Auditor:
    def __init__(self, app: faust.App, partitions: int, audit_topic: faust.TopicT) -> None:
        self.out = audit_topic
        self.heads = app.Table("audit-chain", partitions=partitions, key_type=bytes, value_type=bytes)
        app.agent(app.topic(SEGMENTS_STORED, SEGMENTS_QUARANTINED, CUSTODY), name="audit")(self._agent)

    async def _agent(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await self._one(event)
            except Exception:  # noqa: BLE001 - one bad event must not stop the trail of every recording
                m = event.message
                log.exception("audit: %s[%d]@%d failed", m.topic, m.partition, m.offset)

    async def _one(self, event: EventT) -> None:
        message = event.message
        try:
            custody = custody_of(message.topic, event.value or b"")
        except ValueError as exc:
            log.error("audit: unreadable record at %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc)
            return
        chain_id = custody.recording_id or audit.SYSTEM
        key = chain_id.encode()
        raw = self.heads.get(key)
        head = ChainHead.model_validate_json(raw) if raw else ChainHead(hash=audit.genesis(chain_id))
        if head.seen.get(message.topic, -1) >= message.offset:
            return  # linked before a restart
        record = audit.seal(chain_id, head.next_index, head.hash, custody)
        seen = {**head.seen, message.topic: message.offset}
        self.heads[key] = ChainHead(next_index=head.next_index + 1, hash=record.hash, seen=seen).model_dump_json().encode()
        await self.out.send(key=key, value=record.to_json())
