"""A worker killed with SIGKILL mid-stream loses nothing and stores nothing twice."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from bwv.settings import Settings
from bwv.stack import free_port
from producers.camera import CameraIdentity
from producers.publisher import SegmentPublisher
from producers.segmenter import Segment, segment_source
from schemas.topics import SEGMENTS_STORED
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, publish_numbered, records, stored_versions, wait_for, without_session_worker

pytestmark = pytest.mark.integration

CAMERAS = 3
SEGMENTS = 30


def test_sigkill_mid_stream_then_restart_stores_every_segment_once(
    settings: Settings, worker: WorkerProcess, sample_video: Path, tmp_path: Path
) -> None:
    # The session worker shares the group; stop it so this test owns every partition.
    with without_session_worker(worker, tmp_path):
        _crash_and_recover(settings, sample_video, tmp_path)


def _crash_and_recover(settings: Settings, sample_video: Path, tmp_path: Path) -> None:
    source: list[Segment] = list(segment_source(str(sample_video), 2.0))
    recordings = [f"crash-rec-{c}" for c in range(CAMERAS)]
    store = ObjectStore(settings)
    enroll_cameras(settings, *(f"crash-cam-{c}" for c in range(CAMERAS)))
    # A slow-ish worker (one segment per batch) so the kill lands mid-stream.
    env = {"BWV_INGEST_BATCH_SIZE": "1"}
    first = WorkerProcess.start(tmp_path, free_port(), env)
    identities = [CameraIdentity(f"crash-cam-{c}", f"officer-{c}", recording_id) for c, recording_id in enumerate(recordings)]
    publish_numbered(SegmentPublisher(settings), source, identities, SEGMENTS)

    def some_stored() -> int | None:
        n = sum(sum(stored_versions(store, r).values()) for r in recordings)
        return n if n >= CAMERAS * SEGMENTS // 4 else None

    at_kill = wait_for(some_stored, 60, "a quarter of the segments to be stored")
    first.stop(signal.SIGKILL)
    assert at_kill < CAMERAS * SEGMENTS, "the kill came too late to test anything"

    second = WorkerProcess.start(tmp_path, free_port(), env)
    try:
        for recording_id in recordings:
            wait_for(lambda r=recording_id: len(stored_versions(store, r)) == SEGMENTS or None, 90, f"all of {recording_id}")
    finally:
        second.stop()

    sent = CAMERAS * SEGMENTS
    stored = sum(len(stored_versions(store, r)) for r in recordings)
    object_versions = sum(sum(stored_versions(store, r).values()) for r in recordings)
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
