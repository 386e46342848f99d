"""The Faust application: topics, tables and the ingest agent, built from settings.

The ingest agent runs at concurrency 1 (a higher concurrency can commit an offset
past unfinished work) and gets its throughput from batches: each batch is split by
camera, cameras run concurrently, a camera's segments run in order. Events are
acknowledged by hand only after their objects are stored and every record they
caused is delivered, so the committed offset never passes unstored footage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import faust
from faust.streams import _current_event  # the context Faust's tables read
from faust.types import EventT

from bwv.settings import Settings
from schemas.headers import HeaderError, decode_headers, header_mapping, signed_parts
from schemas.layout import rejected_key
from schemas.records import Alert, DeadLetter, RecordingEnd, SegmentHeader, Severity
from schemas.topics import ALERTS, DEAD_LETTERS, MESSAGE_OVERHEAD_BYTES, SEGMENTS, SEGMENTS_STORED
from streams.decisions import Limits, RecordingState
from streams.identity import IdentityProblem, check_identity
from streams.ingest import Ingestor, Outcome
from streams.objectstore import META_SHA256, ObjectStore
from streams.registry import CameraRegistry

log = logging.getLogger(__name__)


def broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


@contextlib.contextmanager
def event_context(event: EventT) -> Iterator[None]:
    """Make ``event`` the current one, so table writes go to its partition.

    Faust tables pick the changelog partition (and RocksDB shard) from the
    current event; with several cameras of one batch in flight at once, each
    task must say which event it works for.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class Pipeline:
    """The bwv Faust app and its agents."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = faust.App(
            settings.app_id,
            broker=broker_url(settings.kafka_bootstrap),
            store=settings.store,
            datadir=str(settings.data_dir),
            web_host=settings.web_host,
            web_port=settings.web_port,
            web_bind=settings.web_host,
            topic_partitions=settings.segment_partitions,
            topic_disable_leader=True,
            broker_rebalance_timeout=settings.rebalance_timeout,
            broker_session_timeout=settings.session_timeout,
            broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
            consumer_max_fetch_size=2 * (settings.max_segment_bytes + MESSAGE_OVERHEAD_BYTES),
            broker_commit_interval=1.0,
            key_serializer="raw",
            value_serializer="raw",
        )
        self.store = ObjectStore(settings)
        self.executor = ThreadPoolExecutor(settings.s3_threads, thread_name_prefix="bwv-s3")
        limits = Limits(settings.max_segment_bytes, settings.max_sequence_jump)
        self.ingestor = Ingestor(self.store, self.executor, limits, on_storage_trouble=self._alert_soon)
        self.registry = CameraRegistry(settings)
        partitions = settings.segment_partitions
        self.segments = self.app.topic(SEGMENTS, partitions=partitions, internal=False)
        self.stored = self.app.topic(SEGMENTS_STORED, partitions=partitions, internal=False)
        self.alerts = self.app.topic(ALERTS, partitions=partitions, internal=False)
        self.dead_letters = self.app.topic(DEAD_LETTERS, partitions=partitions, internal=False)
        # Keyed by recording id, written from the segment's own partition.
        # bytes both ways: Faust's default json codec cannot read our raw keys
        # back on changelog recovery, and a restarted worker would never finish it.
        self.recordings = self.app.Table("recording-state", partitions=partitions, key_type=bytes, value_type=bytes)
        self.app.agent(self.segments, name="ingest")(self._ingest_agent)
        self.app.task(self._on_start)
        self.app.on_before_shutdown.connect(self._on_shutdown)

    async def _on_start(self) -> None:
        await self.ingestor.call(self.store.ensure_buckets)

    async def _on_shutdown(self, app: faust.App, **kwargs: object) -> None:
        await self.registry.stop()

    # --- agent --------------------------------------------------------------------
    async def _ingest_agent(self, stream: faust.StreamT) -> None:
        settings = self.settings
        await self.registry.start()
        async for events in stream.noack_take(settings.ingest_batch_size, within=settings.ingest_batch_within):
            # A revocation the broker acknowledged applies to every batch after it.
            await self.registry.catch_up()
            by_camera: dict[bytes, list[EventT]] = defaultdict(list)
            for event in events:
                by_camera[event.message.key or b""].append(event)
            await asyncio.gather(*(self._camera_events(evs) for evs in by_camera.values()))
            # Changelog and output records must be on the broker before the
            # offsets that caused them can be committed.
            await self.app.producer.flush()
            for event in events:
                await stream.ack(event)

    async def _camera_events(self, events: list[EventT]) -> None:
        for event in events:
            with event_context(event):
                await self._one_event(event)

    async def _one_event(self, event: EventT) -> None:
        message = event.message
        try:
            record = decode_headers(message.headers)
        except HeaderError as exc:
            await self._reject(event, exc.reason, exc.detail)
            return
        problem = self._identity_problem(message, record)
        if problem is not None:
            await self._reject(event, problem.reason, problem.detail, record)
            return
        try:
            if isinstance(record, SegmentHeader):
                outcome = await self.ingestor.segment(
                    record, event.value or b"", self._state(record.recording_id), message.partition, message.offset
                )
            else:
                outcome = self.ingestor.end(record, self._state(record.recording_id))
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the bytes
            log.exception("ingest failed for %s[%d]@%d", message.topic, message.partition, message.offset)
            await self._reject(event, "processing_error", f"{type(exc).__name__}: {exc}", record)
            return
        await self._emit(event, record, outcome)

    def _identity_problem(self, message: faust.types.tuples.Message, record: SegmentHeader | RecordingEnd) -> IdentityProblem | None:
        payload, signature = signed_parts(message.headers)
        return check_identity(
            record.camera_id,
            message.key,
            payload,
            signature,
            self.registry.get(record.camera_id),
            self.settings.require_signed_segments,
        )

    def _state(self, recording_id: str) -> RecordingState | None:
        raw = self.recordings.get(recording_id.encode())
        return RecordingState.from_json(raw) if raw else None

    async def _emit(self, event: EventT, record: SegmentHeader | RecordingEnd, outcome: Outcome) -> None:
        if outcome.rejected:
            await self._reject(event, outcome.rejected, outcome.detail, record)
            return
        if outcome.stored is not None:
            fut = await self.stored.send(key=record.camera_id.encode(), value=outcome.stored.to_json())
            await fut
        for alert in outcome.alerts:
            await self.send_alert(alert)
        if outcome.state is not None:
            self.recordings[record.recording_id.encode()] = outcome.state.to_json()

    async def send_alert(self, alert: Alert) -> None:
        await self.alerts.send(key=alert.dedup_key.encode(), value=alert.to_json())

    def _alert_soon(self, alert: Alert) -> None:
        """Storage trouble is noticed inside a retry loop: send without waiting."""
        asyncio.ensure_future(self.send_alert(alert))

    async def _reject(
        self, event: EventT, reason: str, detail: str, record: SegmentHeader | RecordingEnd | None = None
    ) -> None:
        """Dead-letter a message and keep its bytes in quarantine: nothing is dropped."""
        message = event.message
        data = event.value or b""
        digest = await self.ingestor.sha256(data)
        key = rejected_key(message.topic, message.partition, message.offset, digest)
        if data:
            await self.ingestor.call(
                self.store.put, self.store.quarantine_bucket, key, data, {META_SHA256: digest, "bwv-reason": reason}
            )
        headers = {k: v.decode("latin-1") for k, v in header_mapping(message.headers).items()}
        letter = DeadLetter(
            reason=reason,
            detail=detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=(message.key or b"").decode("utf-8", "replace"),
            camera_id=record.camera_id if record else None,
            recording_id=record.recording_id if record else None,
            sequence=record.sequence if isinstance(record, SegmentHeader) else None,
            headers=headers,
            byte_size=len(data),
        )
        await self.dead_letters.send(key=message.key, value=letter.to_json())
        await self.send_alert(
            Alert(
                kind="dead_letter",
                severity=Severity.critical,
                dedup_key=f"dead_letter:{message.topic}:{message.partition}:{message.offset}",
                message=f"message {message.topic}[{message.partition}]@{message.offset} refused: {reason}: {detail}",
                reason=reason,
                camera_id=letter.camera_id,
                recording_id=letter.recording_id,
            )
        )
        log.warning("dead-lettered %s[%d]@%d: %s: %s", message.topic, message.partition, message.offset, reason, detail)
