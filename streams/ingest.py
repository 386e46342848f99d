"""Ingest of one segment: hash → verify → chain → store, with storage as the truth.

Steps for a segment (``Ingestor.segment``):
  1. hash the bytes (in a worker thread: hashlib releases the GIL);
  2. decide from the recording's state (``streams.decisions.decide``);
  3. carry the decision out against S3 — idempotently: a key that already holds
     the same bytes is success, a key holding other bytes is a conflict that is
     quarantined and alerted, never overwritten;
  4. return what changed (new state, the stored record, alerts) for the agent to
     emit. The agent commits the Kafka offset only after all of it is durable.

The table state is a cache of what storage holds: when it is missing or behind
(a crash between the S3 write and the changelog write), it is rebuilt from the
objects' metadata instead of trusting a stale value.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from schemas import chain
from schemas.layout import quarantine_key, segment_key, segments_prefix, sequence_of
from schemas.records import (
    Alert,
    AlertState,
    QuarantinedSegment,
    RecordingEnd,
    RecordingEnded,
    SegmentHeader,
    Severity,
    StoredSegment,
    utcnow,
)
from streams.metrics import WorkerMetrics
from streams.decisions import Action, Decision, Limits, Observed, RecordingState, decide, is_mpegts
from streams.objectstore import (
    META_CHAIN,
    META_HEADER,
    META_PREVIOUS_CHAIN,
    META_SHA256,
    META_SOURCE,
    ObjectInfo,
    ObjectStore,
    header_metadata,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

SEGMENT_CONTENT_TYPE = "video/mp2t"


@dataclass
class Outcome:
    """What ingesting one message changed, for the agent to emit."""

    state: RecordingState | None = None  # new state to save (None: unchanged)
    stored: StoredSegment | None = None
    alerts: list[Alert] = field(default_factory=list)
    rejected: str | None = None  # dead-letter reason
    detail: str = ""
    quarantined: QuarantinedSegment | None = None
    ended: RecordingEnded | None = None


def _retryable(exc: BaseException) -> bool:
    # Everything but a programming error is worth retrying: footage must not be
    # dropped because storage was down, slow, or briefly refused us.
    return not isinstance(exc, (TypeError, ValueError, AttributeError, KeyError))


class Ingestor:
    """Carries out ingest decisions against the object store."""

    def __init__(
        self,
        store: ObjectStore,
        executor: Executor,
        limits: Limits,
        on_storage_trouble: Callable[[Alert], None] | None = None,
        metrics: WorkerMetrics | None = None,
        max_backoff: float = 5.0,
    ) -> None:
        self.store = store
        self.executor = executor
        self.limits = limits
        self.on_storage_trouble = on_storage_trouble
        self.metrics = metrics
        # Retries never give up (footage waits, it is not dropped); the cap bounds
        # how long after storage returns the waiting calls notice it.
        self.max_backoff = max_backoff
        self._storage_failing = False
        self._last_failure = 0.0  # time.monotonic() of the latest failed call

    # --- storage calls: off the event loop, retried with backoff ----------------
    async def call(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        name = getattr(fn, "__name__", "call")
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=wait_exponential(multiplier=0.2, max=self.max_backoff),
            before_sleep=lambda retry_state: self._storage_failed(name, retry_state),
            reraise=True,
        ):
            with attempt:
                started = time.monotonic()
                result = await loop.run_in_executor(self.executor, fn, *args)
        # Only a call sent after the latest failure proves storage is back: one
        # that was already under way (a slow answer) must not clear the alert.
        if self._storage_failing and started > self._last_failure:  # type: ignore[possibly-undefined]
            self._storage_failing = False
            self._notify(storage_alert(AlertState.cleared, "object store answers again"))
        return result  # type: ignore[possibly-undefined]

    def _storage_failed(self, name: str, retry_state: RetryCallState) -> None:
        if self.metrics is not None:
            self.metrics.storage_errors.inc()
            self.metrics.storage_retries.inc()
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        self._last_failure = time.monotonic()
        log.warning(
            "object store %s failed (attempt %d), retrying: %s", name, retry_state.attempt_number, exc
        )
        if not self._storage_failing:
            self._storage_failing = True
            self._notify(storage_alert(AlertState.raised, f"object store failing: {exc}"))

    def _notify(self, alert: Alert) -> None:
        if self.on_storage_trouble:
            self.on_storage_trouble(alert)

    async def sha256(self, data: bytes) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, _sha256_hex, data)

    # --- one segment --------------------------------------------------------------
    async def segment(
        self, header: SegmentHeader, data: bytes, state: RecordingState | None, partition: int = -1, offset: int = -1
    ) -> Outcome:
        seen = Observed(await self.sha256(data), len(data), is_mpegts(data), partition, offset)
        decision = decide(state, header, seen, self.limits)
        if decision.action is Action.STORE and (decision.gap or (state is None and header.sequence > 0)):
            # State may be missing or behind what storage holds: rebuild, decide again.
            state = await self._recover_state(header, state)
            decision = decide(state, header, seen, self.limits)
        if decision.action is Action.REJECT:
            return Outcome(rejected=decision.reason, detail=decision.detail)
        if decision.action is Action.REDELIVERED:
            log.info("segment %s/%d redelivered after a restart: already done", header.recording_id, header.sequence)
            return Outcome()
        if decision.action is Action.QUARANTINE:
            return await self._quarantine(header, data, seen.sha256, "hash_mismatch", decision.detail)
        if decision.action is Action.DUPLICATE:
            return await self._duplicate(header, data, seen.sha256)
        return await self._store(header, data, seen, state or RecordingState.empty(header), decision)

    async def _store(
        self, header: SegmentHeader, data: bytes, seen: Observed, state: RecordingState, decision: Decision
    ) -> Outcome:
        assert decision.chain is not None
        actual = seen.sha256
        key = segment_key(header.recording_id, header.sequence)
        # A store proven to honour If-None-Match (ObjectStore.probe_conditional_writes)
        # needs no look first: create finds whatever the key holds, and the same
        # checks below run on what it found. Any other store is looked at first,
        # so a segment is never written over there either.
        existing = None
        if not getattr(self.store, "conditional_writes", False):
            existing = await self.call(self.store.head, self.store.footage_bucket, key)
        if (refused := _other_owner(existing, header)) is not None:
            return refused
        if existing is not None and existing.sha256 != actual:
            return await self._conflict(header, data, actual, existing)
        if existing is None:
            metadata = {
                META_SHA256: actual,
                META_CHAIN: decision.chain,
                META_PREVIOUS_CHAIN: state.chain,
                META_HEADER: header_metadata(header.model_dump_json()),
                META_SOURCE: f"{seen.partition}/{seen.offset}",
            }
            # create, not put: a retry after a timed-out attempt that landed anyway
            # must find that object, not write a second version of the segment.
            taken = await self.call(
                self.store.create, self.store.footage_bucket, key, data, metadata, SEGMENT_CONTENT_TYPE
            )
            if (refused := _other_owner(taken, header)) is not None:
                return refused
            if taken is not None and taken.sha256 != actual:
                return await self._conflict(header, data, actual, taken)
        outcome = Outcome(state=state.after(header, decision.chain, seen))
        outcome.stored = StoredSegment(
            **header.model_dump(exclude={"schema_version", "container"}),
            chain=decision.chain,
            bucket=self.store.footage_bucket,
            key=key,
            stored_at=utcnow(),
        )
        if decision.gap:
            first, last = decision.gap
            outcome.alerts.append(
                Alert(
                    kind="sequence_gap",
                    severity=Severity.warning,
                    dedup_key=f"sequence_gap:{header.recording_id}:{first}-{last}",
                    message=f"segments {first}..{last} of recording {header.recording_id} never arrived",
                    camera_id=header.camera_id,
                    recording_id=header.recording_id,
                    sequence=first,
                )
            )
        return outcome

    async def _duplicate(self, header: SegmentHeader, data: bytes, actual: str) -> Outcome:
        key = segment_key(header.recording_id, header.sequence)
        existing = await self.call(self.store.head, self.store.footage_bucket, key)
        if (refused := _other_owner(existing, header)) is not None:
            return refused
        if existing is not None and existing.sha256 == actual:
            log.warning("segment %s/%d sent again with the same bytes: refused as a replay", header.recording_id, header.sequence)
            return Outcome(
                rejected="replayed_segment",
                detail=f"sequence {header.sequence} of recording {header.recording_id} is already stored with these bytes",
            )
        return await self._conflict(header, data, actual, existing)

    async def _conflict(
        self, header: SegmentHeader, data: bytes, actual: str, existing: ObjectInfo | None
    ) -> Outcome:
        why = (
            f"stored segment has SHA-256 {existing.sha256}, this one {actual}"
            if existing is not None
            else "the recording is past this sequence but no object holds it"
        )
        return await self._quarantine(header, data, actual, "duplicate_conflict", why)

    async def _quarantine(
        self, header: SegmentHeader, data: bytes, actual: str, kind: str, reason: str
    ) -> Outcome:
        key = quarantine_key(header.recording_id, header.sequence, actual)
        metadata = {
            META_SHA256: actual,
            "bwv-reason": kind,
            META_HEADER: header_metadata(header.model_dump_json()),
        }
        if await self.call(self.store.head, self.store.quarantine_bucket, key) is None:
            # The key names the bytes' hash: whatever holds it already is this segment.
            await self.call(
                self.store.create, self.store.quarantine_bucket, key, data, metadata, SEGMENT_CONTENT_TYPE
            )
        log.warning("quarantined %s/%d: %s", header.recording_id, header.sequence, reason)
        alert = Alert(
            kind=kind,
            severity=Severity.critical,
            dedup_key=f"{kind}:{header.recording_id}:{header.sequence}:{actual}",
            message=f"segment {header.sequence} of recording {header.recording_id} quarantined: {reason}",
            camera_id=header.camera_id,
            recording_id=header.recording_id,
            sequence=header.sequence,
        )
        record = QuarantinedSegment(
            **header.model_dump(include={"camera_id", "officer_id", "recording_id", "sequence", "capture_start", "capture_end"}),
            reason=kind,
            detail=reason,
            sha256=actual,
            bucket=self.store.quarantine_bucket,
            key=key,
        )
        return Outcome(alerts=[alert], quarantined=record)

    async def _recover_state(self, header: SegmentHeader, state: RecordingState | None) -> RecordingState | None:
        """Rebuild a recording's state from the objects stored before this segment."""
        objects = await self.call(
            lambda: [
                o
                for o in self.store.list(self.store.footage_bucket, segments_prefix(header.recording_id))
                if sequence_of(o.key) < header.sequence
            ]
        )
        if not objects:
            return state
        last = max(objects, key=lambda o: sequence_of(o.key))
        info = await self.call(self.store.head, self.store.footage_bucket, last.key)
        if info is None or META_CHAIN not in info.metadata:
            return state
        stored_header = SegmentHeader.model_validate_json(info.metadata[META_HEADER])
        if stored_header.camera_id != header.camera_id:
            return RecordingState.empty(stored_header)  # decide() will refuse the other camera
        partition, _, offset = info.metadata.get(META_SOURCE, "-1/-1").partition("/")
        recovered = RecordingState(
            recording_id=header.recording_id,
            camera_id=stored_header.camera_id,
            officer_id=stored_header.officer_id,
            last_sequence=stored_header.sequence,
            chain=info.metadata[META_CHAIN],
            segments=len(objects),
            bytes=sum(o.size for o in objects),
            last_partition=int(partition),
            last_offset=int(offset),
        )
        if state is None or recovered.last_sequence > state.last_sequence:
            log.info("recording %s: state rebuilt from storage at sequence %d", header.recording_id, recovered.last_sequence)
            return recovered
        return state

    # --- end of a recording -----------------------------------------------------
    def end(self, marker: RecordingEnd, state: RecordingState | None) -> Outcome:
        base = state or RecordingState(
            recording_id=marker.recording_id,
            camera_id=marker.camera_id,
            officer_id="",
            last_sequence=-1,
            chain=chain.genesis(marker.recording_id),
            segments=0,
            bytes=0,
        )
        if base.camera_id != marker.camera_id:
            return Outcome(
                rejected="recording_reused",
                detail=f"recording {marker.recording_id} belongs to camera {base.camera_id}",
            )
        outcome = Outcome(
            state=replace(base, ended=True, expected_segments=marker.segment_count),
            ended=RecordingEnded(
                camera_id=marker.camera_id,
                recording_id=marker.recording_id,
                segments_sent=marker.segment_count,
                segments_stored=base.segments,
                ended_at=marker.ended_at,
            ),
        )
        if marker.segment_count != base.segments:
            outcome.alerts.append(
                Alert(
                    kind="recording_incomplete",
                    severity=Severity.critical,
                    dedup_key=f"recording_incomplete:{marker.recording_id}",
                    message=(
                        f"recording {marker.recording_id} ended with {marker.segment_count} segments "
                        f"sent by the camera but {base.segments} stored"
                    ),
                    camera_id=marker.camera_id,
                    recording_id=marker.recording_id,
                )
            )
        return outcome


def _other_owner(existing: ObjectInfo | None, header: SegmentHeader) -> Outcome | None:
    """A stored segment of this recording from another camera: the id was reused.

    Cameras on other partitions never share table state, so storage is where a
    recording id's first owner is found.
    """
    if existing is None or META_HEADER not in existing.metadata:
        return None
    owner = SegmentHeader.model_validate_json(existing.metadata[META_HEADER]).camera_id
    if owner == header.camera_id:
        return None
    return Outcome(
        rejected="recording_reused",
        detail=f"recording {header.recording_id} belongs to camera {owner}, not {header.camera_id}",
    )


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def storage_alert(state: AlertState, message: str) -> Alert:
    return Alert(
        kind="storage_failure",
        severity=Severity.critical,
        state=state,
        dedup_key="storage_failure",
        message=message,
    )
