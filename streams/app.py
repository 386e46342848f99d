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
import os
import weakref
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import faust
from faust.streams import _current_event  # the context Faust's tables read
from faust.types import EventT

from bwv.security import faust_credentials
from bwv.settings import Settings
from schemas.headers import HeaderError, decode_headers, header_mapping, signed_parts
from schemas.layout import rejected_key
from faust.sensors.prometheus import setup_prometheus_sensors

from schemas.records import (
    Alert,
    AlertState,
    DeadLetter,
    RecordingEnd,
    SegmentHeader,
    Severity,
    StoredSegment,
)
from schemas.topics import (
    ALERTS,
    AUDIT,
    CAMERA_STATUS,
    CUSTODY,
    DELETIONS,
    INDEX_TICKS,
    DEAD_LETTERS,
    MESSAGE_OVERHEAD_BYTES,
    RECORDINGS,
    RECORDINGS_ENDED,
    SEGMENTS,
    SEGMENTS_QUARANTINED,
    SEGMENTS_STORED,
    SERVICE_KEYS,
    THUMBNAILS,
)
from streams import api
from streams.auditor import Auditor
from streams.indexer import Indexer, Outputs, parse_record
from streams.metrics import WorkerMetrics
from streams.decisions import Limits, RecordingState
from streams.identity import IdentityProblem, check_identity
from streams.ingest import Ingestor, Outcome
from streams.objectstore import META_SHA256, ObjectStore
from streams.readmodel import IndexView
from streams.refetch import read_range
from streams.registry import CameraRegistry
from streams.thumbnail_schedule import thumbnail_due
from streams.thumbnailer import Cut, SegmentRef, ThumbnailOutcome, Thumbnailer

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
            broker_credentials=faust_credentials(settings),
            topic_replication_factor=settings.topic_replication_factor,
            store=settings.store,
            # Faust refuses to recover a table whose local store claims a changelog offset
            # past the topic's end: a RocksDB directory left behind by deleted topics. An
            # in-memory store has no such past, and on Tansu the check fired on the worker's
            # own just-acknowledged writes (ListOffsets one behind), crashing it at a rebalance.
            recovery_consistency_check=not settings.store.startswith("memory://"),
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
            # stream_buffer_maxsize stays at Faust's default (4096): a small buffer made
            # Faust's back-pressure path skip fetched messages (segments 9-12 of a
            # recording never reached ingest in the crash test); see README, Faults.
            key_serializer="raw",
            value_serializer="raw",
        )
        self.metrics = WorkerMetrics()
        setup_prometheus_sensors(self.app, registry=self.metrics.registry)  # /metrics on the web port
        self.store = ObjectStore(settings)
        self.executor = ThreadPoolExecutor(settings.s3_threads, thread_name_prefix="bwv-s3")
        limits = Limits(settings.max_segment_bytes, settings.max_sequence_jump)
        self.ingestor = Ingestor(self.store, self.executor, limits, on_storage_trouble=self._alert_soon, metrics=self.metrics)
        self.registry = CameraRegistry(settings)
        # Decoding releases the GIL: one thread per core, apart from the S3 threads, so a
        # cut never holds a segment's PUT back. Slots bound the cuts in flight.
        cores = len(os.sched_getaffinity(0))
        self.thumbnail_executor = ThreadPoolExecutor(cores, thread_name_prefix="bwv-thumb")
        self.thumbnail_slots = asyncio.Semaphore(4 * cores)
        self._thumbnail_tasks: set[asyncio.Future[None]] = set()
        self.thumbnailer = Thumbnailer(
            self.store, self.thumbnail_executor, self.ingestor.call, width=settings.thumbnail_width, metrics=self.metrics,
            check_executor=self.executor,
        )
        self.view = IndexView(settings)
        partitions = settings.segment_partitions
        topic = partial(self.app.topic, partitions=partitions, internal=False)
        self.segments = topic(SEGMENTS)
        self.stored = topic(SEGMENTS_STORED)
        self.quarantined = topic(SEGMENTS_QUARANTINED)
        self.ended = topic(RECORDINGS_ENDED)
        self.thumbnails = topic(THUMBNAILS)
        self.recording_summaries = topic(RECORDINGS)
        self.camera_status = topic(CAMERA_STATUS)
        self.alerts = topic(ALERTS)
        self.dead_letters = topic(DEAD_LETTERS)
        # Keyed by recording id, written from the segment's own partition.
        # bytes both ways: Faust's default json codec cannot read our raw keys
        # back on changelog recovery, and a restarted worker would never finish it.
        self.recordings = self.app.Table("recording-state", partitions=partitions, key_type=bytes, value_type=bytes)
        self.app.agent(self.segments, name="ingest")(self._ingest_agent)
        self.indexer = Indexer(
            self.app,
            settings,
            self.store,
            self.ingestor.call,
            Outputs(
                summaries=self.recording_summaries,
                status=self.camera_status,
                deletions=topic(DELETIONS),
                custody=topic(CUSTODY),
                ticks=topic(INDEX_TICKS),
                send_alert=self.send_alert,
            ),
            self.metrics,
        )
        self.auditor = Auditor(self.app, partitions, topic(AUDIT))
        self.service_keys = self.app.topic(SERVICE_KEYS, partitions=1, internal=False)
        if settings.thumbnails == "agent":
            self.app.agent(self.stored, name="thumbnails")(self._thumbnail_agent)
        api.install(self.app, self.view, self.store, self.executor, settings.thumbnail_width)
        self.app.task(self._on_start)
        self.app.on_before_shutdown.connect(self._on_shutdown)
        self.app.timer(5.0, name="consumer-lag")(self._report_lag)

    async def _on_start(self) -> None:
        self.metrics.serve(self.settings.metrics_port, self.settings.web_host)
        await self.ingestor.call(self.store.ensure_buckets)
        # Until this answers, segments are stored the careful way (HEAD, then create).
        if not await self.ingestor.call(self.store.probe_conditional_writes):
            log.warning("the object store ignores If-None-Match: every segment write is preceded by a HEAD")
        # Verifiers find the seal key here (compacted by key id: re-sending is harmless).
        service_key = self.indexer.sealer.service_key()
        await self.service_keys.send(key=service_key.key_id.encode(), value=service_key.to_json())

    async def _on_shutdown(self, app: faust.App, **kwargs: object) -> None:
        await self.registry.stop()
        await self.view.stop()

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
        problem = self._identity_problem(message.key, message.headers, record)
        if problem is not None:
            await self._reject(event, problem.reason, problem.detail, record)
            return
        if isinstance(record, SegmentHeader):
            try:
                await self._repair_gap(event, record)
            except Exception:  # noqa: BLE001 - the gap is still alerted below; the batch must go on
                log.exception("could not read back the gap before %s/%d", record.recording_id, record.sequence)
        # Inline thumbnails: the picture is cut from the bytes in memory while the
        # segment is being stored (no storage round trip), in the thumbnail pool, and
        # finished in the background: the batch, and the segments behind it, do not
        # wait for a decode. Segments the schedule passes over are only checked for a
        # keyframe (~1 ms), awaited here; with BWV_THUMBNAILS=agent the agent cuts the rest.
        cut = background = None
        if isinstance(record, SegmentHeader) and self.settings.thumbnails != "off":
            due = thumbnail_due(record, self.settings.thumbnail_interval_seconds)
            if not due:
                cut = asyncio.ensure_future(self.thumbnailer.cut(event.value or b"", full=False))
            elif self.settings.thumbnails == "inline":
                await self.thumbnail_slots.acquire()  # bounded: a flood waits here, not in memory
                background = asyncio.ensure_future(self.thumbnailer.cut(event.value or b"", full=True))
        outcome = None
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
        finally:
            picture = await cut if cut is not None else None
            if background is not None:
                self._finish_thumbnail(background, outcome.stored if outcome is not None else None)
        await self._emit(event, record, outcome)
        if picture is not None and outcome.stored is not None:
            await self._emit_thumbnail(await self.thumbnailer.save(_ref(outcome.stored), picture))

    def _finish_thumbnail(self, cut: asyncio.Future[Cut], stored: StoredSegment | None) -> None:
        """Store and announce a cut once it is done, off the batch; its slot is freed either way.

        A thumbnail is not evidence: if the worker dies first, the segment's picture
        is cut on demand when asked for, and the next interval brings a new one.
        """

        async def finish() -> None:
            try:
                picture = await cut
                if stored is not None:
                    await self._emit_thumbnail(await self.thumbnailer.save(_ref(stored), picture))
            except Exception:  # noqa: BLE001 - a thumbnail never stops ingest
                log.exception("thumbnail of %s/%d not saved", stored.recording_id if stored else "?", stored.sequence if stored else -1)
            finally:
                self.thumbnail_slots.release()

        task = asyncio.ensure_future(finish())
        self._thumbnail_tasks.add(task)
        task.add_done_callback(self._thumbnail_tasks.discard)

    async def _repair_gap(self, event: EventT, record: SegmentHeader) -> None:
        """Segments the consumer skipped are read again from their offsets and stored first.

        A gap in a recording whose last segment came from this same partition can
        only be filled by messages between the two offsets: if the camera sent
        them, they are there, and they are ingested, in order, before this one.
        """
        message = event.message
        state = self._state(record.recording_id)
        if (
            state is None
            or record.sequence <= state.last_sequence + 1
            or state.last_partition != message.partition
            or not 0 <= state.last_offset < message.offset - 1
        ):
            return
        skipped = await read_range(self.settings, message.topic, message.partition, state.last_offset + 1, message.offset)
        for old in skipped:
            if (old.key or b"") != (message.key or b""):
                continue
            try:
                header = decode_headers(old.headers)
            except HeaderError:
                continue  # bad input: it would have been refused anyway
            current = self._state(record.recording_id)
            if (
                not isinstance(header, SegmentHeader)
                or header.recording_id != record.recording_id
                or (current is not None and header.sequence <= current.last_sequence)
                or header.sequence >= record.sequence
            ):
                continue
            if self._identity_problem(old.key, old.headers, header):
                continue
            log.warning(
                "segment %s/%d at %s[%d]@%d was skipped by the consumer: recovered from its offset",
                header.recording_id, header.sequence, message.topic, old.partition, old.offset,
            )
            outcome = await self.ingestor.segment(header, old.value or b"", current, old.partition, old.offset)
            await self._emit(event, header, outcome)
            if outcome.stored is not None:  # recovered means stored: a quarantined one is counted there
                self.metrics.recovered_skips.inc()

    def _identity_problem(
        self, key: bytes | None, headers: object, record: SegmentHeader | RecordingEnd
    ) -> IdentityProblem | None:
        payload, signature = signed_parts(headers)  # type: ignore[arg-type]
        return check_identity(
            record.camera_id,
            key,
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
        camera = record.camera_id.encode()
        if outcome.stored is not None:
            fut = await self.stored.send(key=camera, value=outcome.stored.to_json())
            await fut
            self._count_stored(outcome.stored)
        if outcome.quarantined is not None:
            await self.quarantined.send(key=camera, value=outcome.quarantined.to_json())
            self.metrics.quarantined.labels(outcome.quarantined.reason).inc()
            if outcome.quarantined.reason == "hash_mismatch":
                self.metrics.hash_mismatches.inc()
        if outcome.ended is not None:
            await self.ended.send(key=camera, value=outcome.ended.to_json())
        for alert in outcome.alerts:
            await self.send_alert(alert)
        if outcome.state is not None:
            self.recordings[record.recording_id.encode()] = outcome.state.to_json()

    async def send_alert(self, alert: Alert) -> None:
        await self.alerts.send(key=alert.dedup_key.encode(), value=alert.to_json())
        if alert.state is AlertState.raised:
            self.metrics.alerts.labels(alert.kind).inc()

    def _count_stored(self, stored: StoredSegment) -> None:
        m = self.metrics
        m.segments.labels(stored.camera_id).inc()
        m.bytes.labels(stored.camera_id).inc(stored.byte_size)
        # Footage sent faster than real time (files) has no capture-to-store delay to speak of.
        m.latency.labels("stored").observe(max(0.0, (stored.stored_at - stored.capture_end).total_seconds()))

    async def _report_lag(self) -> None:
        """Messages of bwv.segments this worker has not committed yet, per partition it owns."""
        consumer = self.app.consumer
        owned = [tp for tp in consumer.assignment() if tp.topic == SEGMENTS]
        if not owned:
            return
        highwaters = await consumer.highwaters(*owned)
        for tp in owned:
            committed = consumer._committed_offset.get(tp)  # noqa: SLF001 - Faust keeps no public view of it
            self.metrics.lag.labels(str(tp.partition)).set(max(0, highwaters[tp] - (committed or 0)))

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
                self.store.create, self.store.quarantine_bucket, key, data, {META_SHA256: digest, "bwv-reason": reason}
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
        self.metrics.dead_letters.labels(reason).inc()
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

    # --- thumbnails ------------------------------------------------------------------
    async def _emit_thumbnail(self, outcome: ThumbnailOutcome) -> None:
        if outcome.record is not None:
            await self.thumbnails.send(key=outcome.record.camera_id.encode(), value=outcome.record.to_json())
        if outcome.alert is not None:
            await self.send_alert(outcome.alert)

    async def _thumbnail_agent(self, stream: faust.StreamT) -> None:
        """BWV_THUMBNAILS=agent: each stored segment is fetched back from S3 and cut here."""
        settings = self.settings
        async for events in stream.noack_take(settings.ingest_batch_size, within=settings.ingest_batch_within):
            await asyncio.gather(*(self._thumbnail_from_storage(event) for event in events))
            await self.app.producer.flush()
            for event in events:
                await stream.ack(event)

    async def _thumbnail_from_storage(self, event: EventT) -> None:
        stored = parse_record(StoredSegment, event)
        if stored is None or not thumbnail_due(stored, self.settings.thumbnail_interval_seconds):
            return
        data = await self.ingestor.call(self.store.get, stored.bucket, stored.key)
        await self._emit_thumbnail(await self.thumbnailer.make(_ref(stored), data))


def _ref(stored: StoredSegment) -> SegmentRef:
    return SegmentRef(stored.camera_id, stored.recording_id, stored.sequence, stored.capture_start)
