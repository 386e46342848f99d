"""End to end on the real broker and S3: camera CLI → Kafka → worker → S3 → verify."""

from __future__ import annotations

import hashlib
import io
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from bwv.settings import Settings
from producers.publisher import SegmentPublisher
from schemas.layout import segment_key, segments_prefix
from schemas.records import SegmentHeader
from schemas.topics import ALERTS, DEAD_LETTERS, SEGMENTS_STORED
from streams.objectstore import META_CHAIN, META_SHA256, ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, records, wait_for

pytestmark = pytest.mark.integration


def stored_keys(store: ObjectStore, recording_id: str) -> list[str]:
    return [o.key for o in store.list(store.footage_bucket, segments_prefix(recording_id))]


def decoded_seconds(data: bytes) -> tuple[float, int]:
    """Seconds of video a segment decodes to, and its frame count (decoding every frame)."""
    with av.open(io.BytesIO(data), format="mpegts") as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        rate = float(stream.average_rate or stream.guessed_rate or 25)
    return frames / rate, frames


@pytest.fixture(scope="module", autouse=True)
def cameras(settings: Settings) -> None:
    """This module's cameras, registered with their signing keys."""
    enroll_cameras(settings, "e2e-cam", "dup-cam", "live-cam")


@pytest.fixture(scope="module")
def published(settings: Settings, worker: WorkerProcess, sample_video: Path) -> dict[str, object]:
    """The sample file through the real `bwv camera` CLI, stored by the real worker."""
    result = bwv("camera", "--source", str(sample_video), "--camera-id", "e2e-cam", "--officer", "pc-4711")
    assert result.returncode == 0, result.stderr
    recording_id = result.stdout.strip().splitlines()[0]
    count = int(re.search(r"published (\d+) segments", result.stderr).group(1))  # type: ignore[union-attr]
    store = ObjectStore(settings)
    wait_for(lambda: len(stored_keys(store, recording_id)) >= count or None, 60, f"{count} stored segments")
    return {"recording_id": recording_id, "count": count, "store": store}


def test_every_segment_is_stored_whole_and_decodes(published: dict[str, object], sample_video: Path) -> None:
    store: ObjectStore = published["store"]  # type: ignore[assignment]
    recording_id: str = published["recording_id"]  # type: ignore[assignment]
    keys = stored_keys(store, recording_id)
    assert keys == [segment_key(recording_id, i) for i in range(published["count"])]  # type: ignore[arg-type]
    total_seconds = 0.0
    for key in keys:
        info = store.head(store.footage_bucket, key)
        body = store.get(store.footage_bucket, key)
        assert info is not None and info.size == len(body)
        assert info.metadata[META_SHA256] == hashlib.sha256(body).hexdigest()
        seconds, frames = decoded_seconds(body)
        assert frames > 0
        total_seconds += seconds
    with av.open(str(sample_video)) as source:
        source_seconds = float(source.duration or 0) / 1e6
    assert abs(total_seconds - source_seconds) <= 2.0  # within one segment


def test_stored_records_carry_the_chain(published: dict[str, object], settings: Settings) -> None:
    store: ObjectStore = published["store"]  # type: ignore[assignment]
    recording_id = published["recording_id"]
    mine = [r for r in records(settings, SEGMENTS_STORED) if r["recording_id"] == recording_id]
    assert sorted(r["sequence"] for r in mine) == list(range(published["count"]))  # type: ignore[arg-type]
    for r in mine:
        info = store.head(store.footage_bucket, r["key"])  # type: ignore[arg-type]
        assert info is not None and info.metadata[META_CHAIN] == r["chain"]
        assert r["officer_id"] == "pc-4711" and r["camera_id"] == "e2e-cam"


def test_verify_passes_then_names_a_flipped_byte_and_a_deleted_segment(published: dict[str, object]) -> None:
    store: ObjectStore = published["store"]  # type: ignore[assignment]
    recording_id: str = published["recording_id"]  # type: ignore[assignment]
    ok = bwv("verify", recording_id)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout and f"{published['count']} segments" in ok.stdout

    key = segment_key(recording_id, 1)
    info = store.head(store.footage_bucket, key)
    original = store.get(store.footage_bucket, key)
    assert info is not None
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    store.put(store.footage_bucket, key, bytes(flipped), info.metadata)
    altered = bwv("verify", recording_id)
    assert altered.returncode == 1
    assert "segment 1: altered" in altered.stderr

    store.put(store.footage_bucket, key, original, info.metadata)
    assert bwv("verify", recording_id).returncode == 0

    # Swap two segments, bodies and metadata together: each is whole, the order is not.
    third, fourth = segment_key(recording_id, 2), segment_key(recording_id, 3)
    a, b = store.head(store.footage_bucket, third), store.head(store.footage_bucket, fourth)
    body_a, body_b = store.get(store.footage_bucket, third), store.get(store.footage_bucket, fourth)
    assert a is not None and b is not None
    store.put(store.footage_bucket, third, body_b, b.metadata)
    store.put(store.footage_bucket, fourth, body_a, a.metadata)
    swapped = bwv("verify", recording_id)
    assert swapped.returncode == 1
    assert "segment 2: out_of_order" in swapped.stderr
    store.put(store.footage_bucket, third, body_a, a.metadata)
    store.put(store.footage_bucket, fourth, body_b, b.metadata)
    assert bwv("verify", recording_id).returncode == 0

    store.delete(store.footage_bucket, segment_key(recording_id, 2))
    missing = bwv("verify", recording_id)
    assert missing.returncode == 1
    assert "segment 2: missing" in missing.stderr


def test_verify_of_an_unknown_recording_fails_clearly(settings: Settings) -> None:
    result = bwv("verify", "no-such-recording")
    assert result.returncode == 1
    assert "no stored segments" in result.stderr
    assert "Traceback" not in result.stderr


def ts_body(fill: int, packets: int) -> bytes:
    """Bytes shaped like MPEG-TS (sync byte every 188), enough for the ingest boundary."""
    return (b"\x47" + bytes([fill]) * 187) * packets


TS_PACKETS = 30


def _header(
    recording_id: str, sequence: int, body: bytes, sha256: str | None = None, camera_id: str = "dup-cam"
) -> SegmentHeader:
    now = datetime.now(timezone.utc)
    return SegmentHeader(
        camera_id=camera_id,
        officer_id="pc-1",
        recording_id=recording_id,
        sequence=sequence,
        capture_start=now,
        capture_end=now,
        codec="h264",
        width=320,
        height=240,
        fps=25,
        byte_size=len(body),
        sha256=sha256 or hashlib.sha256(body).hexdigest(),
    )


def publish_ts(publisher: SegmentPublisher, camera_id: str, recording_id: str, fills: dict[int, int]) -> None:
    """Publish TS-shaped segments of one recording (sequence -> fill byte) and flush: for tests of what a camera sends when, not of media."""
    for sequence, fill in fills.items():
        body = ts_body(fill, TS_PACKETS)
        publisher.publish(_header(recording_id, sequence, body, camera_id=camera_id), body)
    publisher.flush()


def test_wrong_camera_hash_is_quarantined_and_alerted(settings: Settings, worker: WorkerProcess) -> None:
    recording_id = "quarantine-test-1"
    body = ts_body(0, 100)
    publisher = SegmentPublisher(settings)
    publisher.publish(_header(recording_id, 0, body, sha256="0" * 64), body)
    publisher.flush()
    store = ObjectStore(settings)
    quarantined = wait_for(
        lambda: list(store.list(store.quarantine_bucket, f"quarantine/{recording_id}/")), 30, "the quarantined copy"
    )
    assert quarantined[0].key.endswith(f"-{hashlib.sha256(body).hexdigest()}.ts")
    assert stored_keys(store, recording_id) == []
    alerts = wait_for(
        lambda: [a for a in records(settings, ALERTS) if a.get("recording_id") == recording_id], 15, "the alert"
    )
    assert alerts[0]["kind"] == "hash_mismatch" and alerts[0]["severity"] == "critical"


def test_resent_segment_is_not_duplicated(settings: Settings, worker: WorkerProcess) -> None:
    recording_id = "dup-test-1"
    bodies = [ts_body(i, 30) for i in range(3)]
    publisher = SegmentPublisher(settings)
    for i, body in enumerate(bodies):
        publisher.publish(_header(recording_id, i, body), body)
    publisher.publish(_header(recording_id, 1, bodies[1]), bodies[1])  # the camera re-sends
    publisher.flush()
    store = ObjectStore(settings)
    wait_for(lambda: len(stored_keys(store, recording_id)) == 3 or None, 30, "3 stored segments")
    # The re-sent copy is refused as a replay (a dead letter), never stored again.
    letters = wait_for(
        lambda: [r for r in records(settings, DEAD_LETTERS) if r.get("recording_id") == recording_id],
        30,
        "the re-sent segment's dead letter",
    )
    assert [(r["reason"], r["sequence"]) for r in letters] == [("replayed_segment", 1)]
    versions = list(
        store.client.list_objects(store.footage_bucket, prefix=segments_prefix(recording_id), include_version=True)
    )
    assert len(versions) == 3
    mine = [r for r in records(settings, SEGMENTS_STORED) if r["recording_id"] == recording_id]
    assert sorted(r["sequence"] for r in mine) == [0, 1, 2]
    assert bwv("verify", recording_id).returncode == 0


def test_other_bytes_for_a_stored_sequence_never_overwrite_it(settings: Settings, worker: WorkerProcess) -> None:
    recording_id = "conflict-test-1"
    first, impostor = ts_body(1, 20), ts_body(2, 20)
    publisher = SegmentPublisher(settings)
    publisher.publish(_header(recording_id, 0, first), first)
    publisher.publish(_header(recording_id, 0, impostor), impostor)
    publisher.flush()
    store = ObjectStore(settings)
    quarantined = wait_for(
        lambda: list(store.list(store.quarantine_bucket, f"quarantine/{recording_id}/")), 30, "the quarantined impostor"
    )
    assert quarantined[0].key.endswith(hashlib.sha256(impostor).hexdigest() + ".ts")
    assert store.get(store.footage_bucket, segment_key(recording_id, 0)) == first
    alerts = wait_for(
        lambda: [a for a in records(settings, ALERTS) if a.get("recording_id") == recording_id], 15, "the alert"
    )
    # (the TS-shaped test bodies hold no picture: undecodable_segment alerts are expected beside it)
    assert [a["kind"] for a in alerts if a["kind"] != "undecodable_segment"] == ["duplicate_conflict"]


def test_camera_refuses_a_segment_over_the_size_limit(settings: Settings) -> None:
    result = bwv(
        "camera", "--source", "testsrc", "--seconds", "2", "--width", "1280", "--height", "720",
        "--bitrate", "8000000", "--camera-id", "big-cam",
        env={"BWV_MAX_SEGMENT_BYTES": "65536"},
    )
    assert result.returncode == 2
    assert "over the 65,536-byte limit (BWV_MAX_SEGMENT_BYTES)" in result.stderr
    assert "Traceback" not in result.stderr


def test_realtime_camera_publishes_at_capture_pace(settings: Settings, worker: WorkerProcess) -> None:
    started = time.monotonic()
    result = bwv("camera", "--source", "testsrc", "--seconds", "4", "--realtime", "--camera-id", "live-cam")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "published 2 segments" in result.stderr
    assert elapsed >= 3.8  # a live camera cannot publish footage before it is captured
    recording_id = result.stdout.strip()
    store = ObjectStore(settings)
    wait_for(lambda: len(stored_keys(store, recording_id)) == 2 or None, 30, "2 stored segments")
    assert bwv("verify", recording_id).returncode == 0
