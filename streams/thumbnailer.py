"""Thumbnails of stored segments: cut, stored next to the footage, announced; never fatal.

The picture is cut by ``streams.thumbnails`` (PyAV, first keyframe only) in a
worker thread: decoding releases the GIL, so the event loop keeps moving. Only
the segments ``streams.thumbnail_schedule`` picks are cut as they are stored;
the others are only checked for a keyframe (nothing decoded) and cut on demand
by ``load_thumbnail``. A segment that holds no picture is still footage: it gets
an ``undecodable_segment`` alert instead of a thumbnail, and nothing else changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from schemas.layout import recording_prefix, segment_key, segments_prefix, sequence_of, thumbnail_key, thumbnails_prefix
from schemas.records import Alert, Severity, Thumbnail, utcnow
from streams import thumbnails
from streams.metrics import WorkerMetrics
from streams.objectstore import META_SHA256, ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

JPEG_CONTENT_TYPE = "image/jpeg"


@dataclass(frozen=True)
class SegmentRef:
    """The few facts of a stored segment a thumbnail needs."""

    camera_id: str
    recording_id: str
    sequence: int
    capture_start: datetime


@dataclass
class ThumbnailOutcome:
    record: Thumbnail | None = None
    alert: Alert | None = None


class Thumbnailer:
    def __init__(
        self,
        store: ObjectStore,
        executor: Executor,
        call: Callable[..., Awaitable[object]],
        width: int = 320,
        quality: int = 80,
        metrics: WorkerMetrics | None = None,
        check_executor: Executor | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        # Keyframe checks (~1 ms) run elsewhere than cuts: never queued behind a decode.
        self.check_executor = check_executor or executor
        self.call = call  # the ingest's retried storage call: a thumbnail waits out an S3 outage too
        self.width = width
        self.quality = quality
        self.metrics = metrics

    async def make(self, ref: SegmentRef, data: bytes) -> ThumbnailOutcome:
        return await self.save(ref, await self.cut(data))

    async def cut(self, data: bytes, full: bool = True) -> Cut:
        """The JPEG (``full``) or only a keyframe check, or why there is no picture; never
        raises for a bad segment (it is started beside the segment's storage, and must not fail that)."""
        loop = asyncio.get_running_loop()
        executor = self.executor if full else self.check_executor
        return await loop.run_in_executor(executor, _timed_cut, data, self.width, self.quality, full)

    async def save(self, ref: SegmentRef, cut: Cut) -> ThumbnailOutcome:
        """Store and announce the cut of a segment that was stored (only those are counted)."""
        picture = cut.picture
        if self.metrics is not None:
            if cut.full:
                self.metrics.thumbnail_seconds.observe(cut.seconds)
            result = "undecodable" if isinstance(picture, thumbnails.ThumbnailError) else "ok" if picture else "deferred"
            self.metrics.thumbnails.labels(result).inc()
        if picture is None:  # checked only: cut when somebody asks for it
            return ThumbnailOutcome()
        if isinstance(picture, thumbnails.ThumbnailError):
            log.warning("no thumbnail for %s/%d: %s", ref.recording_id, ref.sequence, picture)
            return ThumbnailOutcome(alert=undecodable_alert(ref, str(picture)))
        key = thumbnail_key(ref.recording_id, ref.sequence)
        # create: a re-cut after a crash finds the first JPEG and leaves it be.
        await self.call(
            self.store.create,
            self.store.footage_bucket,
            key,
            picture.jpeg,
            {META_SHA256: hashlib.sha256(picture.jpeg).hexdigest(), "bwv-segment-sequence": str(ref.sequence)},
            JPEG_CONTENT_TYPE,
        )
        return ThumbnailOutcome(
            record=Thumbnail(
                camera_id=ref.camera_id,
                recording_id=ref.recording_id,
                sequence=ref.sequence,
                bucket=self.store.footage_bucket,
                key=key,
                width=picture.width,
                height=picture.height,
                byte_size=len(picture.jpeg),
                capture_start=ref.capture_start,
                created_at=utcnow(),
            )
        )


@dataclass(frozen=True)
class Cut:
    picture: thumbnails.Thumbnail | thumbnails.ThumbnailError | None  # None: a keyframe is there, not cut
    seconds: float  # what cutting it cost in its thread
    full: bool = True


def _timed_cut(data: bytes, width: int, quality: int, full: bool = True) -> Cut:
    """Cut in a worker thread, timed there: the time the picture cost, not the time it queued."""
    started = time.perf_counter()
    picture: thumbnails.Thumbnail | thumbnails.ThumbnailError | None = None
    try:
        if full:
            picture = thumbnails.first_keyframe_jpeg(data, width, quality)
        else:
            thumbnails.check_keyframe(data)
    except thumbnails.ThumbnailError as exc:
        picture = exc
    return Cut(picture, time.perf_counter() - started, full)


@dataclass(frozen=True)
class ListedSegment:
    sequence: int
    key: str
    size: int
    thumbnail_stored: bool  # cut as it was stored; the others are cut when asked for


def list_segments(store: ObjectStore, recording_id: str) -> list[ListedSegment]:
    """A recording's stored segments in sequence order, and which have a stored thumbnail:
    one listing of the recording's prefix (blocking)."""
    segments: list[ObjectInfo] = []
    pictures: set[int] = set()
    for obj in store.list(store.footage_bucket, recording_prefix(recording_id)):
        if obj.key.startswith(segments_prefix(recording_id)):
            segments.append(obj)
        elif obj.key.startswith(thumbnails_prefix(recording_id)):
            pictures.add(sequence_of(obj.key))
    listed = [ListedSegment(sequence_of(o.key), o.key, o.size, sequence_of(o.key) in pictures) for o in segments]
    return sorted(listed, key=lambda s: s.sequence)


def load_thumbnail(store: ObjectStore, recording_id: str, sequence: int, width: int, quality: int = 80) -> bytes | None:
    """A segment's JPEG: the stored one, else cut now from the stored segment (blocking).

    A thumbnail cut on demand is not stored: readers (the query API, the control
    room) never write to the evidence bucket. None when neither exists or the
    segment shows no picture; a deleted recording's segments are gone, so are its pictures.
    """
    bucket = store.footage_bucket
    stored = store.get_or_none(bucket, thumbnail_key(recording_id, sequence))
    if stored is not None:
        return stored
    segment = store.get_or_none(bucket, segment_key(recording_id, sequence))
    if segment is None:
        return None
    try:
        return thumbnails.first_keyframe_jpeg(segment, width, quality).jpeg
    except thumbnails.ThumbnailError as exc:
        log.info("no picture in %s/%d: %s", recording_id, sequence, exc)
        return None


def undecodable_alert(ref: SegmentRef, why: str) -> Alert:
    return Alert(
        kind="undecodable_segment",
        severity=Severity.warning,
        dedup_key=f"undecodable_segment:{ref.recording_id}:{ref.sequence}",
        message=f"segment {ref.sequence} of recording {ref.recording_id} is stored but shows no picture: {why}",
        camera_id=ref.camera_id,
        recording_id=ref.recording_id,
        sequence=ref.sequence,
    )
