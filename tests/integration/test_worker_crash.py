"""A worker killed with SIGKILL mid-stream loses nothing and stores nothing twice."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bwv.settings import Settings
from bwv.stack import free_port
from producers.camera import CameraIdentity, build_header
from producers.publisher import SegmentPublisher
from producers.segmenter import Segment, segment_source
from schemas.layout import segments_prefix
from schemas.topics import SEGMENTS_STORED
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, records, wait_for

pytestmark = pytest.mark.integration

CAMERAS = 3
SEGMENTS = 30


def versions(store: ObjectStore, recording_id: str) -> Counter[str]:
    found = store.client.list_objects(store.footage_bucket, prefix=segments_prefix(recording_id), include_version=True)
    return Counter(o.object_name for o in found if not o.is_delete_marker)


def test_sigkill_mid_stream_then_restart_stores_every_segment_once(
    settings: Settings, worker: WorkerProcess, sample_video: Path, tmp_path: Path
) -> None:
    # The session worker shares the group; stop it so this test owns every partition.
    worker.stop()
    try:
        _crash_and_recover(settings, sample_video, tmp_path)
    finally:
        worker.child = WorkerProcess.start(tmp_path, free_port()).child


def _crash_and_recover(settings: Settings, sample_video: Path, tmp_path: Path) -> None:
    source: list[Segment] = list(segment_source(str(sample_video), 2.0))
    recordings = [f"crash-rec-{c}" for c in range(CAMERAS)]
    store = ObjectStore(settings)
    enroll_cameras(settings, *(f"crash-cam-{c}" for c in range(CAMERAS)))
    # A slow-ish worker (one segment per batch) so the kill lands mid-stream.
    env = {"BWV_INGEST_BATCH_SIZE": "1"}
    first = WorkerProcess.start(tmp_path, free_port(), env)
    publisher = SegmentPublisher(settings)
    start = datetime.now(timezone.utc)
    for i in range(SEGMENTS):
        for c, recording_id in enumerate(recordings):
            segment = source[i % len(source)]
            numbered = Segment(i, segment.data, i * 2.0, segment.duration, segment.codec, segment.width, segment.height, segment.fps)
            identity = CameraIdentity(f"crash-cam-{c}", f"officer-{c}", recording_id)
            publisher.publish(build_header(identity, numbered, start), segment.data)
    publisher.flush()

    def some_stored() -> int | None:
        n = sum(sum(versions(store, r).values()) for r in recordings)
        return n if n >= CAMERAS * SEGMENTS // 4 else None

    at_kill = wait_for(some_stored, 60, "a quarter of the segments to be stored")
    first.stop(signal.SIGKILL)
    assert at_kill < CAMERAS * SEGMENTS, "the kill came too late to test anything"

    second = WorkerProcess.start(tmp_path, free_port(), env)
    try:
        for recording_id in recordings:
            wait_for(lambda r=recording_id: len(versions(store, r)) == SEGMENTS or None, 90, f"all of {recording_id}")
    finally:
        second.stop()

    sent = CAMERAS * SEGMENTS
    stored = sum(len(versions(store, r)) for r in recordings)
    object_versions = sum(sum(versions(store, r).values()) for r in recordings)
    stored_records = Counter(
        (r["recording_id"], r["sequence"]) for r in records(settings, SEGMENTS_STORED) if r["recording_id"] in recordings
    )
    print(
        f"\nSIGKILL mid-stream: sent {sent}, stored before kill {at_kill}, stored {stored}, "
        f"object versions {object_versions}, stored records {sum(stored_records.values())} "
        f"for {len(stored_records)} segments"
    )
    assert stored == sent
    assert object_versions == sent  # nothing written twice
    assert len(stored_records) == sent  # every segment announced (re-announcements are allowed)
    for recording_id in recordings:
        result = bwv("verify", recording_id)
        assert result.returncode == 0, result.stderr
        assert f"{SEGMENTS} segments" in result.stdout
