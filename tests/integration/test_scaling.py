"""Two workers on one topic: both get partitions of bwv.segments, every segment is stored once.

Parallelism comes from partitions: a camera is one key, so one partition, so one
worker at a time. Eight cameras spread over the test's partitions and two workers
in the group; the group's assignment (Faust logs it as a table) must give each
worker a share, and the pipeline must store every segment exactly once.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from kafka.partitioner.default import murmur2

from bwv.settings import Settings
from bwv.stack import free_port
from producers.camera import CameraIdentity
from producers.publisher import SegmentPublisher
from producers.segmenter import Segment, segment_source
from schemas.topics import SEGMENTS, SEGMENTS_STORED
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, enroll_cameras, publish_numbered, records, stored_versions, wait_for, without_session_worker

pytestmark = pytest.mark.integration

CAMERAS = 8
SEGMENTS_PER_CAMERA = 5

ASSIGNED = "Setting newly assigned partitions"
ROW = re.compile(r"^\|\s*(?P<topic>\S+)\s*\|\s*\{(?P<partitions>[^}]*)\}\s*\|")


def partition_of(camera_id: str, partitions: int) -> int:
    """Where the producer's default partitioner puts a camera's key (Kafka's murmur2)."""
    return (murmur2(camera_id.encode()) & 0x7FFFFFFF) % partitions


def pick_cameras(partitions: int) -> list[str]:
    """CAMERAS camera ids, spread evenly over every partition."""
    per_partition = max(1, CAMERAS // partitions)
    chosen: dict[int, list[str]] = {p: [] for p in range(partitions)}
    i = 0
    while sum(map(len, chosen.values())) < CAMERAS:
        camera = f"scale-cam-{i}"
        bucket = chosen[partition_of(camera, partitions)]
        if len(bucket) < per_partition:
            bucket.append(camera)
        i += 1
    return [c for cams in chosen.values() for c in cams]


def parse_partitions(text: str) -> set[int]:
    """Faust's partition-set form: '{0-1, 3}' contents → {0, 1, 3}."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def assigned(log: str, topic: str) -> set[int] | None:
    """The partitions of ``topic`` in the worker's latest assignment (None before the first)."""
    at = log.rfind(ASSIGNED)
    if at < 0:
        return None
    lines = log[at:].splitlines()[1:]
    found: set[int] = set()
    for line in lines:
        if not line.startswith(("|", "+")):
            break  # an empty assignment has no table
        match = ROW.match(line)
        if match and match["topic"] == topic:
            found = parse_partitions(match["partitions"])
    return found


def test_two_workers_share_the_partitions_and_store_every_segment_once(
    settings: Settings, worker: WorkerProcess, sample_video: Path, tmp_path: Path
) -> None:
    # The session worker shares the group; stop it so this test's two workers are all of it.
    with without_session_worker(worker, tmp_path):
        _two_workers(settings, sample_video, tmp_path)


def _two_workers(settings: Settings, sample_video: Path, tmp_path: Path) -> None:
    partitions = settings.segment_partitions
    assert partitions >= 2, "two workers need at least two partitions to share"
    cameras = pick_cameras(partitions)
    enroll_cameras(settings, *cameras)
    store = ObjectStore(settings)
    workers = [WorkerProcess.start(tmp_path, free_port()), WorkerProcess.start(tmp_path, free_port())]
    try:
        def shared() -> list[set[int]] | None:
            shares = [assigned(w.log(), SEGMENTS) for w in workers]
            if any(not s for s in shares):
                return None
            a, b = shares  # type: ignore[misc]
            return [a, b] if not a & b and a | b == set(range(partitions)) else None

        shares = wait_for(shared, 45, "both workers to hold a share of bwv.segments")
        print(f"\nassignment of {SEGMENTS}: worker 1 {sorted(shares[0])}, worker 2 {sorted(shares[1])}")

        source: list[Segment] = list(segment_source(str(sample_video), 2.0))
        recordings = {camera: f"scale-rec-{camera}" for camera in cameras}
        identities = [CameraIdentity(camera, f"officer-{n}", recordings[camera]) for n, camera in enumerate(cameras)]
        publish_numbered(SegmentPublisher(settings), source, identities, SEGMENTS_PER_CAMERA)

        for recording_id in recordings.values():
            wait_for(lambda r=recording_id: len(stored_versions(store, r)) == SEGMENTS_PER_CAMERA or None, 60, f"all of {recording_id}")
        final = [assigned(w.log(), SEGMENTS) for w in workers]
    finally:
        for w in workers:
            w.stop()

    sent = CAMERAS * SEGMENTS_PER_CAMERA
    object_versions = sum(sum(stored_versions(store, r).values()) for r in recordings.values())
    stored_keys = sum(len(stored_versions(store, r)) for r in recordings.values())
    announced = Counter(
        (r["recording_id"], r["sequence"])
        for r in records(settings, SEGMENTS_STORED)
        if r["recording_id"] in set(recordings.values())
    )
    # Who stored what: a camera's partition, and the worker that held it.
    by_worker = Counter(
        next(n for n, share in enumerate(final) if share and partition_of(c, partitions) in share) for c in cameras
    )
    print(
        f"two workers: sent {sent}, stored {stored_keys}, object versions {object_versions}, "
        f"stored records {sum(announced.values())}; cameras per worker {dict(sorted(by_worker.items()))}"
    )
    assert stored_keys == sent
    assert object_versions == sent  # every segment stored exactly once
    assert set(announced) == {(r, s) for r in recordings.values() for s in range(SEGMENTS_PER_CAMERA)}
    assert sorted(by_worker) == [0, 1], "both workers stored footage"
