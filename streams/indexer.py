"""The index agent: camera status, recording summaries, evidence commands and retention.

One agent, concurrency 1, reads every small event of a camera's partition —
stored and quarantined segments, end markers, thumbnails, evidence commands, and
timer ticks — so everything that changes a recording happens in one order, on
the worker that owns the partition. Two tables, both written only while handling
an event of that partition (so their changelogs follow the partition):

* ``camera-index``: per camera, its status (``streams.index.CameraIndex``);
* ``recording-index``: per recording, its summary and any deletion in progress
  (``streams.retention.RecordingEntry``).

Steps of a deletion (``_delete``), each safe to repeat after a crash:
  1. list every version under the recording's prefix, with its SHA-256, and save
     that plan in the table before deleting anything;
  2. delete exactly those versions (storage refuses any under a legal hold);
  3. publish the ``Deletion`` record and the tombstone summary, and record custody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import faust
from faust.types import EventT

from bwv.settings import Settings
from schemas.layout import recording_prefix, seal_key
from schemas.records import (
    Alert,
    AlertState,
    CustodyEvent,
    DeletedObject,
    Deletion,
    EvidenceCommand,
    IndexTick,
    QuarantinedSegment,
    RecordingEnded,
    RecordingStateName,
    RecordingSummary,
    Severity,
    StoredSegment,
    Thumbnail,
    utcnow,
)
from schemas.topics import COMMANDS, INDEX_TICKS, RECORDINGS_ENDED, SEGMENTS_QUARANTINED, SEGMENTS_STORED, THUMBNAILS
from streams import index as camera_index
from streams.commands import new_id
from streams.metrics import WorkerMetrics
from streams.objectstore import ObjectStore
from streams.sealer import Sealer, needs_seal
from streams.retention import DeletionPlan, RecordingEntry, apply_command, due, remember, rule_of

log = logging.getLogger(__name__)

ACTOR = "bwv-retention"
STATUS, RETENTION = "status", "retention"
HOLD_CONCURRENCY = 16  # legal-hold calls in flight at once for one recording


@dataclass
class Outputs:
    """Where the index publishes (topics owned by the Pipeline)."""

    summaries: faust.TopicT
    status: faust.TopicT
    deletions: faust.TopicT
    custody: faust.TopicT
    ticks: faust.TopicT
    send_alert: Callable[[Alert], Awaitable[None]]


class Indexer:
    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        store: ObjectStore,
        call: Callable[..., Awaitable[object]],
        outputs: Outputs,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.store = store
        self.call = call  # retried, off-loop storage call (streams.ingest.Ingestor.call)
        self.out = outputs
        self.metrics = metrics or WorkerMetrics()
        self.sealer = Sealer(settings.seal_key_file)
        self.categories = {"unmarked": settings.retention_days, **settings.retention_categories}
        self.periods = camera_index.Periods(
            silent_after=timedelta(seconds=settings.camera_silent_seconds),
            idle_after=timedelta(seconds=settings.recording_idle_seconds),
            categories=self.categories,
        )
        partitions = settings.segment_partitions
        # bytes both ways: Faust's json codec cannot read raw keys back on recovery.
        self.cameras = app.Table("camera-index", partitions=partitions, key_type=bytes, value_type=bytes)
        self.recordings = app.Table("recording-index", partitions=partitions, key_type=bytes, value_type=bytes)
        inputs = app.topic(SEGMENTS_STORED, SEGMENTS_QUARANTINED, RECORDINGS_ENDED, THUMBNAILS, COMMANDS, INDEX_TICKS)
        app.agent(inputs, name="index")(self._agent)
        app.timer(settings.index_check_interval, name="index-status-ticks")(self._status_ticks)
        app.timer(settings.retention_check_interval, name="index-retention-ticks")(self._retention_ticks)

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.settings.clock_offset_seconds)

    # --- ticks ------------------------------------------------------------------------------
    async def _status_ticks(self) -> None:
        await self._tick(STATUS)

    async def _retention_ticks(self) -> None:
        await self._tick(RETENTION)

    async def _tick(self, kind: str) -> None:
        """One tick to each partition this worker owns; handled in that partition's order."""
        tick = IndexTick(kind=kind).to_json()
        for partition in sorted(self._owned()):
            await self.out.ticks.send(key=b"tick", value=tick, partition=partition)

    def _owned(self) -> set[int]:
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == SEGMENTS_STORED}

    # --- the agent ------------------------------------------------------------------------------
    async def _agent(self, stream: faust.StreamT) -> None:
        handlers: dict[str, tuple[type, Callable[[EventT, object], Awaitable[None]]]] = {
            SEGMENTS_STORED: (StoredSegment, self._on_stored),
            SEGMENTS_QUARANTINED: (QuarantinedSegment, self._on_quarantined),
            RECORDINGS_ENDED: (RecordingEnded, self._on_ended),
            THUMBNAILS: (Thumbnail, self._on_thumbnail),
            COMMANDS: (EvidenceCommand, self._on_command),
            INDEX_TICKS: (IndexTick, self._on_tick),
        }
        async for event in stream.events():
            cls, handle = handlers[event.message.topic]
            record = parse_record(cls, event)
            if record is None:
                continue
            try:
                await handle(event, record)
            except Exception:  # noqa: BLE001 - one bad event must not stop the index of every camera
                message = event.message
                log.exception("index: %s[%d]@%d failed", message.topic, message.partition, message.offset)

    # --- camera and recording values ------------------------------------------------------------
    def _camera(self, camera_id: str) -> camera_index.CameraIndex:
        raw = self.cameras.get(camera_id.encode())
        return camera_index.CameraIndex.model_validate_json(raw) if raw else camera_index.CameraIndex()

    def _entry(self, recording_id: str) -> RecordingEntry | None:
        raw = self.recordings.get(recording_id.encode())
        return RecordingEntry.model_validate_json(raw) if raw else None

    def _save_entry(self, entry: RecordingEntry) -> None:
        self.recordings[entry.summary.recording_id.encode()] = entry.to_json()

    async def _apply(
        self,
        event: EventT,
        camera_id: str,
        recording_ids: list[str | None],
        rule: Callable[[camera_index.CameraIndex], camera_index.IndexUpdate],
    ) -> camera_index.IndexUpdate | None:
        """Run a pure index rule for one event: load, apply, save, publish; replays are skipped."""
        message = event.message
        current = self._camera(camera_id)
        if current.seen.get(message.topic, -1) >= message.offset:
            return None  # applied before a restart
        wanted = {r for r in [*recording_ids, current.status.current_recording if current.status else None] if r}
        entries = {rid: e for rid in wanted if (e := self._entry(rid)) is not None}
        current.recordings = {rid: e.summary for rid, e in entries.items()}
        update = rule(current)
        update.index.seen[message.topic] = message.offset
        update.summaries = [await self._seal_if_closed(summary) for summary in update.summaries]
        for summary in [*update.summaries, *update.placeholders]:
            old = entries.get(summary.recording_id)
            self._save_entry(
                old.model_copy(update={"summary": summary}) if old else RecordingEntry(summary=summary, partition=message.partition)
            )
        update.index.recordings = {}
        self.cameras[camera_id.encode()] = update.index.to_json()
        await self._publish(update)
        return update

    async def _publish(self, update: camera_index.IndexUpdate) -> None:
        for summary in update.summaries:
            await self.out.summaries.send(key=summary.recording_id.encode(), value=summary.to_json())
        if update.status is not None:
            await self.out.status.send(key=update.status.camera_id.encode(), value=update.status.to_json())
        for alert in update.alerts:
            await self.out.send_alert(alert)

    # --- event handlers ---------------------------------------------------------------------------
    async def _on_stored(self, event: EventT, stored: StoredSegment) -> None:
        p, part = self.periods, event.message.partition
        update = await self._apply(
            event, stored.camera_id, [stored.recording_id], lambda i: camera_index.on_stored(i, stored, part, p, self.now())
        )
        if update is not None:
            self.metrics.latency.labels("indexed").observe(max(0.0, (utcnow() - stored.stored_at).total_seconds()))
            await self._hold_if_marked(stored.recording_id, stored.key)

    async def _on_quarantined(self, event: EventT, q: QuarantinedSegment) -> None:
        p, part = self.periods, event.message.partition
        await self._apply(event, q.camera_id, [q.recording_id], lambda i: camera_index.on_quarantined(i, q, part, p, self.now()))

    async def _on_ended(self, event: EventT, ended: RecordingEnded) -> None:
        p, part = self.periods, event.message.partition
        await self._apply(event, ended.camera_id, [ended.recording_id], lambda i: camera_index.on_ended(i, ended, part, p, self.now()))

    async def _on_thumbnail(self, event: EventT, thumb: Thumbnail) -> None:
        p, part = self.periods, event.message.partition
        update = await self._apply(event, thumb.camera_id, [thumb.recording_id], lambda i: camera_index.on_thumbnail(i, thumb, part, p, self.now()))
        if update is not None:
            await self._hold_if_marked(thumb.recording_id, thumb.key)

    async def _on_tick(self, event: EventT, tick: IndexTick) -> None:
        partition = event.message.partition
        if tick.kind == STATUS:
            await self._status_check(event, partition)
        elif tick.kind == RETENTION:
            await self._retention_check(partition)

    async def _status_check(self, event: EventT, partition: int) -> None:
        live = 0
        owned = self._owned()
        for key, raw in list(self.cameras.items()):
            current = camera_index.CameraIndex.model_validate_json(raw)
            if current.status is not None and current.status.live and current.partition in owned:
                live += 1
            if current.partition != partition or current.status is None:
                continue
            wanted = [current.status.current_recording] if current.status.current_recording else []
            current.recordings = {rid: e.summary for rid in wanted if (e := self._entry(rid)) is not None}
            update = camera_index.on_tick(current, self.periods, utcnow())
            if update.status is None and not update.summaries and not update.alerts:
                continue
            update.summaries = [await self._seal_if_closed(summary) for summary in update.summaries]
            for summary in update.summaries:
                entry = self._entry(summary.recording_id)
                if entry is not None:
                    self._save_entry(entry.model_copy(update={"summary": summary}))
            update.index.recordings = {}
            self.cameras[key] = update.index.to_json()
            await self._publish(update)
        self.metrics.live_cameras.set(live)

    # --- seals ------------------------------------------------------------------------------------
    async def _seal_if_closed(self, summary: RecordingSummary) -> RecordingSummary:
        """Sign the chain head of a closed recording (again, if segments came after the last seal)."""
        if not needs_seal(summary):
            return summary
        seal = self.sealer.seal(summary)
        key = seal_key(summary.recording_id)
        await self.call(self.store.put, self.store.footage_bucket, key, seal.to_json(), {}, "application/json")
        if summary.legal_hold:
            await self.call(self.store.set_legal_hold, self.store.footage_bucket, key, None, True)
        return summary.model_copy(update={
            "sealed_segment_count": seal.segment_count, "sealed_chain_head": seal.chain_head,
            "seal_key_id": seal.key_id, "sealed_at": seal.sealed_at,
        })

    # --- evidence -------------------------------------------------------------------------------
    async def _on_command(self, event: EventT, command: EvidenceCommand) -> None:
        entry = self._entry(command.recording_id)
        if entry is None or entry.summary.camera_id != command.camera_id:
            await self._refuse(command, f"no recording {command.recording_id} of camera {command.camera_id} in the index")
            return
        outcome = apply_command(entry, command, self.categories, self.now())
        if outcome.refused:
            await self._refuse(command, outcome.refused)
            return
        if outcome.summary is None:
            return  # this command was applied before a restart
        objects = 0
        if outcome.hold is not None:
            objects = await self._set_hold(command.recording_id, outcome.hold)
        entry = entry.model_copy(update={"summary": outcome.summary, "commands": remember(entry, command.command_id)})
        self._save_entry(entry)
        await self.out.summaries.send(key=command.recording_id.encode(), value=outcome.summary.to_json())
        detail = {"category": outcome.summary.retention_category, "legal_hold": outcome.summary.legal_hold, "objects_held": objects}
        if outcome.summary.expires_at:
            detail["expires_at"] = outcome.summary.expires_at.isoformat()
        if command.days:
            detail["days"] = command.days
        kind = {"mark": "marked", "release": "released", "extend": "extended"}[command.action.value]
        self.metrics.evidence.labels(command.action.value).inc()
        await self._custody(CustodyEvent(
            event_id=f"command-{command.command_id}", kind=kind, recording_id=command.recording_id,
            camera_id=command.camera_id, actor=command.by, reason=command.reason, detail=detail, at=command.at,
        ))
        log.info("recording %s %s by %s (%d objects)", command.recording_id, kind, command.by, objects)

    async def _refuse(self, command: EvidenceCommand, why: str) -> None:
        log.warning("evidence command %s refused: %s", command.command_id, why)
        await self.out.send_alert(Alert(
            kind="evidence_command_refused", severity=Severity.warning, dedup_key=f"evidence_command_refused:{command.command_id}",
            message=f"{command.action.value} of {command.recording_id} by {command.by} refused: {why}",
            camera_id=command.camera_id, recording_id=command.recording_id,
        ))

    async def _set_hold(self, recording_id: str, on: bool) -> int:
        """Legal hold on (or off) every version of every object of the recording."""
        bucket = self.store.footage_bucket
        versions = await self.call(self.store.versions, bucket, recording_prefix(recording_id))
        limit = asyncio.Semaphore(HOLD_CONCURRENCY)

        async def one(key: str, version: str | None) -> None:
            async with limit:
                await self.call(self.store.set_legal_hold, bucket, key, version, on)

        await asyncio.gather(*(one(v.key, v.version_id) for v in versions))  # type: ignore[attr-defined]
        return len(versions)  # type: ignore[arg-type]

    async def _hold_if_marked(self, recording_id: str, key: str) -> None:
        """A segment or thumbnail that arrives after the mark is held like the rest."""
        entry = self._entry(recording_id)
        if entry is not None and entry.summary.legal_hold:
            await self.call(self.store.set_legal_hold, self.store.footage_bucket, key, None, True)

    async def _custody(self, event: CustodyEvent) -> None:
        await self.out.custody.send(key=(event.camera_id or "system").encode(), value=event.to_json())

    # --- retention ---------------------------------------------------------------------------------
    async def _retention_check(self, partition: int) -> None:
        now = self.now()
        for _, raw in list(self.recordings.items()):
            entry = RecordingEntry.model_validate_json(raw)
            if entry.partition != partition:
                continue
            if entry.deletion is not None or due(entry.summary, now):
                await self._delete(entry, now)

    async def _delete(self, entry: RecordingEntry, now: datetime) -> None:
        summary = entry.summary
        bucket = self.store.footage_bucket
        plan = entry.deletion
        if plan is None:  # step 1: the plan is saved before anything is deleted
            plan = DeletionPlan(
                deletion_id=new_id(), rule=rule_of(summary, self.categories), category=summary.retention_category,
                expired_at=summary.expires_at or now, started_at=now, objects=await self._inventory(summary.recording_id),
            )
            entry = entry.model_copy(update={"deletion": plan})
            self._save_entry(entry)
        # step 2
        refused = await self.call(self.store.delete_versions, bucket, [(o.key, o.version_id) for o in plan.objects])
        deletion = Deletion(
            deletion_id=plan.deletion_id, recording_id=summary.recording_id, camera_id=summary.camera_id, rule=plan.rule,
            category=plan.category, expired_at=plan.expired_at, deleted_at=now,
            objects=[o for o in plan.objects if o.key not in refused], object_count=len(plan.objects) - len(refused),
            bytes=sum(o.bytes for o in plan.objects if o.key not in refused), complete=not refused, refused=sorted(refused),
        )
        # step 3
        if refused:  # a legal hold set meanwhile (another worker, or directly on storage): it wins
            tombstone = summary.model_copy(update={"legal_hold": True, "updated_at": now})
            await self.out.send_alert(Alert(
                kind="deletion_refused", severity=Severity.warning, state=AlertState.raised,
                dedup_key=f"deletion_refused:{summary.recording_id}", camera_id=summary.camera_id, recording_id=summary.recording_id,
                message=f"storage kept {len(refused)} object(s) of expired recording {summary.recording_id}: under legal hold",
            ))
        else:
            tombstone = summary.model_copy(update={
                "state": RecordingStateName.deleted, "deletion_id": plan.deletion_id, "deleted_at": now, "latest_thumbnail": None,
                "updated_at": now,
            })
        self._save_entry(entry.model_copy(update={"summary": tombstone, "deletion": None}))
        self.metrics.deletions.inc()
        self.metrics.deleted_bytes.inc(deletion.bytes)
        await self.out.deletions.send(key=summary.camera_id.encode(), value=deletion.to_json())
        await self.out.summaries.send(key=summary.recording_id.encode(), value=tombstone.to_json())
        await self._custody(CustodyEvent(
            event_id=f"deletion-{plan.deletion_id}", kind="deleted", recording_id=summary.recording_id, camera_id=summary.camera_id,
            actor=ACTOR, reason=plan.rule,
            detail={"deletion_id": plan.deletion_id, "objects": deletion.object_count, "bytes": deletion.bytes,
                    "complete": deletion.complete, "refused": len(refused)},
            at=now,
        ))
        log.info("recording %s: deleted %d objects, %d bytes (%s)%s", summary.recording_id, deletion.object_count,
                 deletion.bytes, plan.rule, f"; {len(refused)} refused" if refused else "")

    async def _inventory(self, recording_id: str) -> list[DeletedObject]:
        bucket = self.store.footage_bucket
        versions = await self.call(self.store.versions, bucket, recording_prefix(recording_id))
        limit = asyncio.Semaphore(HOLD_CONCURRENCY)

        async def one(v) -> DeletedObject:  # type: ignore[no-untyped-def]
            async with limit:
                sha = await self.call(self.store.version_sha256, bucket, v.key, v.version_id)
            return DeletedObject(key=v.key, version_id=v.version_id, bytes=v.size, sha256=sha)

        return list(await asyncio.gather(*(one(v) for v in versions)))  # type: ignore[attr-defined]


def parse_record(cls: type, event: EventT):  # type: ignore[no-untyped-def]
    """A record of one of our own topics; a bad one is logged and skipped, never fatal."""
    try:
        return cls.from_json(event.value or b"")
    except ValueError as exc:
        message = event.message
        log.error("unreadable %s record at %s[%d]@%d: %s", cls.__name__, message.topic, message.partition, message.offset, exc)
        return None
