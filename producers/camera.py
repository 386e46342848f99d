"""One camera recording: segment a source, hash each segment, publish it.

Capture times are the recording's start time plus each segment's offset in the
source. With ``realtime`` a segment is published when its capture would have
ended, like a live camera; otherwise as fast as the segmenter goes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from producers.errors import SpoolFull
from producers.publisher import SegmentPublisher
from producers.route import Walk, at_offset
from producers.segmenter import Segment, segment_source
from producers.testsrc import TestsrcOptions
from schemas.records import Location, RecordingEnd, SegmentHeader, utcnow


@dataclass(frozen=True)
class CameraIdentity:
    camera_id: str
    officer_id: str
    recording_id: str


@dataclass
class RecordingResult:
    recording_id: str
    segments: int
    bytes: int
    seconds: float
    interrupted: bool = False


def new_recording_id(camera_id: str, now: datetime | None = None) -> str:
    """Readable and unique: camera, UTC start time, random suffix."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    return f"{camera_id}-{stamp}-{secrets.token_hex(3)}"


def build_header(
    identity: CameraIdentity, segment: Segment, started_at: datetime, location: Location | None = None
) -> SegmentHeader:
    start = started_at + timedelta(seconds=segment.start)
    return SegmentHeader(
        camera_id=identity.camera_id,
        officer_id=identity.officer_id,
        recording_id=identity.recording_id,
        sequence=segment.index,
        capture_start=start,
        capture_end=start + timedelta(seconds=segment.duration),
        codec=segment.codec,
        width=segment.width,
        height=segment.height,
        fps=segment.fps,
        byte_size=len(segment.data),
        sha256=hashlib.sha256(segment.data).hexdigest(),
        location=location,
    )


def _pace(segments: Iterator[Segment], started_mono: float) -> Iterator[Segment]:
    """Hold each segment until its capture would have ended, as a live camera does."""
    for segment in segments:
        due = started_mono + segment.start + segment.duration
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield segment


def record(
    publisher: SegmentPublisher,
    identity: CameraIdentity,
    source: str,
    *,
    segment_seconds: float,
    max_seconds: float | None = None,
    realtime: bool = False,
    testsrc: TestsrcOptions | None = None,
    on_segment: Callable[[SegmentHeader], None] | None = None,
    walk: Walk | None = None,
) -> RecordingResult:
    """Publish one recording and its end marker; returns what was sent.

    A full spool stops the recording: the end marker still closes it on the
    segments that were accepted, then SpoolFull is raised (nothing is dropped).
    """
    started_at = datetime.now(timezone.utc)
    started_mono = time.monotonic()
    segments = segment_source(source, segment_seconds, max_seconds=max_seconds, testsrc_options=testsrc)
    if realtime:
        segments = _pace(segments, started_mono)
    count = total = 0
    seconds = 0.0
    interrupted = False
    refused: SpoolFull | None = None
    try:
        for segment in segments:
            where = at_offset(walk, started_at, segment.start) if walk else None
            header = build_header(identity, segment, started_at, where)
            publisher.publish(header, segment.data)
            if realtime and not publisher.spooled:
                # Spooled, the segment is already safe on disk; waiting for the broker
                # here would stall a live camera through an outage.
                publisher.flush()
            count += 1
            total += len(segment.data)
            seconds = segment.start + segment.duration
            if on_segment:
                on_segment(header)
    except KeyboardInterrupt:
        interrupted = True  # a camera switched off still closes its recording
    except SpoolFull as exc:
        refused = exc
    publisher.publish_end(
        RecordingEnd(
            camera_id=identity.camera_id,
            recording_id=identity.recording_id,
            segment_count=count,
            ended_at=started_at + timedelta(seconds=seconds),
        )
    )
    if refused is not None:
        raise refused  # no drain wait: the broker is likely away, the spool keeps it all
    publisher.flush()
    return RecordingResult(identity.recording_id, count, total, seconds, interrupted)
