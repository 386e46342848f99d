"""S3 down or hung mid-stream: consumption pauses, nothing is committed past unstored
footage, a storage_failure alert is raised and cleared, and every segment ends up
stored exactly once.

The worker reaches S3 through a ``FaultProxy`` (moto keeps everything in memory,
so stopping it would wipe what these tests check); the tests themselves talk to
moto directly. Both tests stop the session worker so their worker owns every
partition of the ``bwv`` group.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import threading
import uuid
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kafka import KafkaAdminClient, TopicPartition

from bwv.settings import Settings
from bwv.stack import free_port
from producers.camera import CameraIdentity, build_header
from producers.publisher import SegmentPublisher
from producers.segmenter import Segment, segment_source
from schemas.layout import segment_key, segments_prefix
from schemas.records import Alert, RecordingEnd
from schemas.topics import ALERTS, DEAD_LETTERS, SEGMENTS, SEGMENTS_STORED
from streams.decisions import Limits
from streams.ingest import SEGMENT_CONTENT_TYPE, Ingestor
from streams.objectstore import META_SHA256, META_SOURCE, ObjectStore
from tests.faultproxy import FaultProxy
from tests.helpers import WorkerProcess, bwv, enroll_cameras, records, wait_for

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30.0
# Low S3 timeouts for every worker of this module, so a hung S3 fails a call in
# about a second instead of 30 (the production default).
TIMEOUTS = {"BWV_S3_CONNECT_TIMEOUT": "1", "BWV_S3_READ_TIMEOUT": "1.5"}


# --- fixtures -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_group(worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Stop the session worker (it shares the group and talks to S3 directly); restart it after."""
    worker.stop()
    try:
        yield
    finally:
        worker.child = WorkerProcess.start(tmp_path_factory.mktemp("worker-after-outage"), free_port()).child


@pytest.fixture
def s3_proxy(settings: Settings) -> Iterator[FaultProxy]:
    endpoint = urlsplit(settings.s3_endpoint)
    proxy = FaultProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80)
    try:
        yield proxy
    finally:
        proxy.close()


def worker_env(proxy: FaultProxy) -> dict[str, str]:
    return {"BWV_S3_ENDPOINT": f"http://{proxy.address}", **TIMEOUTS}


# --- reading what happened ---------------------------------------------------------
def versions(store: ObjectStore, recording_id: str) -> Counter[str]:
    """Object versions per key: a second version of a key is a duplicate write."""
    found = store.client.list_objects(store.footage_bucket, prefix=segments_prefix(recording_id), include_version=True)
    return Counter(o.object_name for o in found if not o.is_delete_marker)


def stored_keys(store: ObjectStore, recordings: list[str]) -> set[str]:
    return {o.key for r in recordings for o in store.list(store.footage_bucket, segments_prefix(r))}


def committed_offsets(admin: KafkaAdminClient, group: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets on bwv.segments, by partition (none: absent)."""
    tps = [TopicPartition(SEGMENTS, p) for p in range(partitions)]
    offsets = admin.list_group_offsets({group: tps})[group]
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta is not None and meta.offset >= 0}


@dataclass
class Snapshot:
    """Committed offsets, then (read after them) the objects stored: a commit past an
    unstored segment shows as a segment below its partition's offset missing here."""

    committed: dict[int, int]
    stored: set[str]
    waiting: int  # segments the broker had acknowledged but S3 did not hold yet


@dataclass
class Fleet:
    """Cameras publishing numbered copies of the sample's segments, one round at a time."""

    settings: Settings
    source: list[Segment]
    prefix: str
    cameras: int
    rounds: int
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        self.identities = [
            CameraIdentity(f"{self.prefix}-cam-{c}", f"officer-{c}", f"{self.prefix}-rec-{c}") for c in range(self.cameras)
        ]
        enroll_cameras(self.settings, *(i.camera_id for i in self.identities))
        self.publisher = SegmentPublisher(self.settings)
        self.error: BaseException | None = None
        self.published = 0  # segments the broker acknowledged so far

    @property
    def recordings(self) -> list[str]:
        return [i.recording_id for i in self.identities]

    @property
    def sent(self) -> int:
        return self.cameras * self.rounds

    def publish(self, pace: float) -> None:
        """Round i goes out ``i * pace`` s after the start, its capture just ended."""
        t0 = time.monotonic()
        for i in range(self.rounds):
            time.sleep(max(0.0, t0 + i * pace - time.monotonic()))
            for identity in self.identities:
                segment = self.source[i % len(self.source)]
                numbered = Segment(i, segment.data, i * pace, pace, segment.codec, segment.width, segment.height, segment.fps)
                self.publisher.publish(build_header(identity, numbered, self.started - timedelta(seconds=pace)), segment.data)
            self.publisher.flush()
            self.published += len(self.identities)
        for identity in self.identities:
            self.publisher.publish_end(
                RecordingEnd(
                    camera_id=identity.camera_id,
                    recording_id=identity.recording_id,
                    segment_count=self.rounds,
                    ended_at=datetime.now(timezone.utc),
                )
            )
        self.publisher.flush()

    def publish_in_background(self, pace: float) -> threading.Thread:
        def run() -> None:
            try:
                self.publish(pace)
            except BaseException as exc:  # noqa: BLE001 - re-raised by check()
                self.error = exc

        thread = threading.Thread(target=run, name="fleet", daemon=True)
        thread.start()
        return thread

    def check(self) -> None:
        if self.error is not None:
            raise self.error


@dataclass
class Outcome:
    sent: int
    stored: int
    object_versions: int
    raised: int
    cleared: int


def check_outcome(settings: Settings, store: ObjectStore, fleet: Fleet, since: datetime) -> Outcome:
    """Every segment stored once and verifiable; the storage alert raised, then cleared."""
    for recording_id in fleet.recordings:
        wait_for(lambda r=recording_id: len(versions(store, r)) == fleet.rounds or None, 60, f"all of {recording_id}")
    per_recording = {r: versions(store, r) for r in fleet.recordings}
    stored = sum(len(v) for v in per_recording.values())
    object_versions = sum(sum(v.values()) for v in per_recording.values())

    mine = set(fleet.recordings)
    stored_records = {(r["recording_id"], r["sequence"]) for r in records(settings, SEGMENTS_STORED) if r["recording_id"] in mine}
    letters = [d for d in records(settings, DEAD_LETTERS) if d.get("recording_id") in mine]
    alerts = [a for a in records(settings, ALERTS) if datetime.fromisoformat(str(a["at"]).replace("Z", "+00:00")) >= since]
    storage = sorted((a for a in alerts if a["kind"] == "storage_failure"), key=lambda a: str(a["at"]))
    incomplete = [a for a in alerts if a["kind"] == "recording_incomplete" and a.get("recording_id") in mine]

    assert stored == fleet.sent, f"stored {stored} of {fleet.sent}"
    assert object_versions == fleet.sent, {r: {k: n for k, n in v.items() if n > 1} for r, v in per_recording.items()}
    assert len(stored_records) == fleet.sent  # every segment announced (re-announcements allowed)
    assert letters == [], letters
    assert incomplete == [], incomplete
    assert storage and storage[0]["state"] == "raised", storage
    assert storage[-1]["state"] == "cleared", storage
    for recording_id in fleet.recordings:
        result = bwv("verify", recording_id)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{fleet.rounds} segments" in result.stdout
    return Outcome(
        fleet.sent,
        stored,
        object_versions,
        sum(a["state"] == "raised" for a in storage),
        sum(a["state"] == "cleared" for a in storage),
    )


# --- tests ----------------------------------------------------------------------------
def test_s3_outage_pauses_ingest_commits_nothing_unstored_and_loses_nothing(
    own_group: None, settings: Settings, s3_proxy: FaultProxy, sample_video: Path, tmp_path: Path
) -> None:
    """3 cameras at 2 s per segment for 40 s; S3 down for 30 s of it; the worker is
    SIGKILLed late in the outage and a new one finishes the job once S3 is back."""
    store = ObjectStore(settings)
    source = list(segment_source(str(sample_video), 2.0))
    fleet = Fleet(settings, source, "outage", cameras=3, rounds=20)
    since = datetime.now(timezone.utc)
    first = WorkerProcess.start(tmp_path, free_port(), worker_env(s3_proxy))
    second: WorkerProcess | None = None
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","), client_id="bwv-test-admin")
    snapshots: list[Snapshot] = []

    def snapshot() -> None:
        published = fleet.published
        committed = committed_offsets(admin, settings.app_id, settings.segment_partitions)
        stored = stored_keys(store, fleet.recordings)
        snapshots.append(Snapshot(committed, stored, published - len(stored)))

    def watch_until(deadline: float) -> None:
        while time.monotonic() < deadline:
            fleet.check()
            snapshot()
            time.sleep(0.5)

    try:
        publishing = fleet.publish_in_background(pace=2.0)
        wait_for(lambda: len(stored_keys(store, fleet.recordings)) >= fleet.cameras or None, 20, "the first round stored")
        time.sleep(3.0)
        s3_proxy.down()
        down_at = time.monotonic()
        time.sleep(0.5)  # a write S3 had fully received before the cut may still finish
        stored_at_outage = len(stored_keys(store, fleet.recordings))
        watch_until(down_at + OUTAGE_SECONDS - 15)
        # A crash while storage is down: only what was stored may have been committed.
        first.stop(signal.SIGKILL)
        second = WorkerProcess.start(tmp_path, free_port(), worker_env(s3_proxy))
        watch_until(down_at + OUTAGE_SECONDS)
        stored_during_outage = len(stored_keys(store, fleet.recordings)) - stored_at_outage
        s3_proxy.up()
        back_at = time.monotonic()
        outage = back_at - down_at
        backlog = fleet.published
        wait_for(lambda: len(stored_keys(store, fleet.recordings)) >= backlog or None, 30, "the backlog stored")
        caught_up = time.monotonic() - back_at
        publishing.join(60)
        fleet.check()
        outcome = check_outcome(settings, store, fleet, since)
        snapshot()
    finally:
        admin.close()
        for w in (first, second):
            if w is not None:
                w.stop()

    # Where each segment sat on the bus, from the object that stores it.
    source_of = {}
    for key in stored_keys(store, fleet.recordings):
        info = store.head(store.footage_bucket, key)
        assert info is not None
        partition, _, offset = info.metadata[META_SOURCE].partition("/")
        source_of[key] = (int(partition), int(offset))
    committed_unstored = [
        (key, where, snap.committed)
        for snap in snapshots
        for key, where in source_of.items()
        if where[1] < snap.committed.get(where[0], -1) and key not in snap.stored
    ]
    waiting = max(snap.waiting for snap in snapshots)
    print(
        f"\nS3 outage {outage:.0f} s (worker SIGKILLed and replaced during it): sent {outcome.sent}, "
        f"stored {outcome.stored}, object versions {outcome.object_versions} "
        f"(duplicates {outcome.object_versions - outcome.stored}), stored before the outage {stored_at_outage}, "
        f"during it {stored_during_outage}, backlog of {backlog - stored_at_outage} stored {caught_up:.1f} s "
        f"after S3 returned; storage_failure alerts raised {outcome.raised} / cleared {outcome.cleared}; "
        f"{len(snapshots)} committed-offset checks with up to {waiting} sent segments unstored: "
        f"{len(committed_unstored)} committed past an unstored segment"
    )
    assert stored_at_outage >= fleet.cameras, "the outage began before anything was stored"
    assert stored_during_outage == 0, "S3 was reachable during the outage: the proxy did not cut it"
    assert len(snapshots) >= 10 and waiting > fleet.cameras, "the offset checks saw nothing waiting"
    assert committed_unstored == [], committed_unstored[:5]
    assert max(snapshots[-1].committed.values()) > 0


def test_hung_s3_times_out_retries_and_stores_every_segment_once(
    own_group: None, settings: Settings, s3_proxy: FaultProxy, sample_video: Path, tmp_path: Path
) -> None:
    """S3 accepts connections but answers nothing for longer than the read timeout;
    requests held by the hung path land late, after the client gave up and retried."""
    store = ObjectStore(settings)
    source = list(segment_source(str(sample_video), 2.0))
    fleet = Fleet(settings, source, "stall", cameras=2, rounds=12)
    since = datetime.now(timezone.utc)
    worker = WorkerProcess.start(tmp_path, free_port(), worker_env(s3_proxy))
    try:
        publishing = fleet.publish_in_background(pace=0.5)
        wait_for(lambda: len(stored_keys(store, fleet.recordings)) >= fleet.cameras or None, 20, "the first round stored")
        stall = 4 * float(TIMEOUTS["BWV_S3_READ_TIMEOUT"])
        with s3_proxy.outage("stall"):
            stalled_at = len(stored_keys(store, fleet.recordings))
            time.sleep(stall)
        publishing.join(30)
        fleet.check()
        outcome = check_outcome(settings, store, fleet, since)
        log = worker.log()
    finally:
        worker.stop()
    print(
        f"\nS3 hung {stall:.0f} s (read timeout {TIMEOUTS['BWV_S3_READ_TIMEOUT']} s): sent {outcome.sent}, "
        f"stored {outcome.stored}, object versions {outcome.object_versions} "
        f"(duplicates {outcome.object_versions - outcome.stored}), stored when it hung {stalled_at}; "
        f"storage_failure alerts raised {outcome.raised} / cleared {outcome.cleared}"
    )
    assert "timed out" in log.lower(), "no S3 call timed out: the stall did not hit the worker"
    assert stalled_at < fleet.sent


def test_a_retried_write_whose_first_attempt_landed_leaves_one_version(settings: Settings, s3_proxy: FaultProxy) -> None:
    """The write times out on our side while S3 holds it; S3 then stores it, and the
    retries find it there: one version, not one per attempt (a plain PUT made 3)."""
    read_timeout = 1.0
    via_proxy = ObjectStore(
        settings.model_copy(
            update={"s3_endpoint": f"http://{s3_proxy.address}", "s3_read_timeout": read_timeout, "s3_connect_timeout": 1}
        )
    )
    store = ObjectStore(settings)
    alerts: list[Alert] = []
    with ThreadPoolExecutor(2) as pool:
        ingestor = Ingestor(via_proxy, pool, Limits(settings.max_segment_bytes, 10), on_storage_trouble=alerts.append)
        data = uuid.uuid4().bytes * 10_000
        key = segment_key(f"retried-write-{uuid.uuid4().hex[:8]}", 0)
        metadata = {META_SHA256: hashlib.sha256(data).hexdigest()}
        s3_proxy.stall()  # every attempt's request is held, then delivered when the path comes back
        threading.Timer(3.5 * read_timeout, s3_proxy.up).start()
        taken = asyncio.run(
            ingestor.call(via_proxy.create, store.footage_bucket, key, data, metadata, SEGMENT_CONTENT_TYPE)
        )
    time.sleep(1.0)  # let every held attempt reach S3
    found = [v for v in store.client.list_objects(store.footage_bucket, prefix=key, include_version=True)]
    attempts = sum(1 for a in alerts if a.state.value == "raised")
    assert taken is None or taken.sha256 == metadata[META_SHA256]
    assert len(found) == 1, [v.version_id for v in found]
    assert store.get(store.footage_bucket, key) == data
    assert [a.state.value for a in alerts] == ["raised", "cleared"], alerts
    assert attempts == 1
