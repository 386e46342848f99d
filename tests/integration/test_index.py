"""Thumbnails, the index and its query API with two workers and four cameras; silent and gap alerts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from bwv.settings import Settings
from bwv.stack import free_port
from producers.publisher import SegmentPublisher
from schemas.records import StoredSegment
from schemas.topics import ALERTS, SEGMENTS_STORED
from streams.thumbnail_schedule import thumbnail_due
from tests.helpers import WorkerProcess, bwv, enroll_cameras, records, wait_for
from tests.integration.test_pipeline import publish_ts

pytestmark = pytest.mark.integration

CAMERAS = [f"idx-cam-{i}" for i in range(4)]


def get(base: str, path: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.loads(response.read())


def get_bytes(base: str, path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def jpeg_size(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data), format="image2pipe") as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


@pytest.fixture(scope="module")
def second_worker(worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """A second worker in the group: each now owns part of the partitions."""
    proc = WorkerProcess.start(tmp_path_factory.mktemp("worker-2"), free_port())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def fleet(settings: Settings, worker: WorkerProcess, second_worker: WorkerProcess, sample_video: Path) -> dict[str, str]:
    """Four cameras record the sample file at once; camera id -> recording id."""
    enroll_cameras(settings, *CAMERAS)
    procs = {
        cam: subprocess.Popen(
            [sys.executable, "-m", "bwv", "camera", "--source", str(sample_video), "--camera-id", cam,
             "--officer", f"pc-{cam[-1]}", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for cam in CAMERAS
    }
    recordings = {}
    for cam, proc in procs.items():
        out, errors = proc.communicate(timeout=120)
        assert proc.returncode == 0, errors
        recordings[cam] = out.strip().splitlines()[0]
    return recordings


def closed(base: str, recording_ids: set[str]) -> list[dict] | None:  # type: ignore[type-arg]
    found = [r for r in get(base, "/api/recordings")["recordings"] if r["recording_id"] in recording_ids]
    done = [r for r in found if r["state"] == "closed" and r["latest_thumbnail"] and r["segment_count"] == r["segments_sent"]]
    return found if len(done) == len(recording_ids) else None


def test_both_workers_answer_the_same(fleet: dict[str, str], worker: WorkerProcess, second_worker: WorkerProcess) -> None:
    bases = [worker.child.url, second_worker.child.url]
    wanted = set(fleet.values())
    for base in bases:
        wait_for(lambda b=base: closed(b, wanted), 60, f"four closed recordings with thumbnails at {base}")

    def same_answers() -> list[tuple[dict, ...]] | None:  # type: ignore[type-arg]
        # Asked one after the other; the status may move (live -> not live) in between, so ask again.
        answers = [
            (get(b, "/api/cameras"), get(b, "/api/recordings?camera=idx-cam-1"), get(b, f"/api/recordings/{fleet['idx-cam-2']}"))
            for b in bases
        ]
        return answers if answers[0] == answers[1] else None

    answers = wait_for(same_answers, 30, "the same answer from both workers")
    cameras = {c["camera_id"]: c for c in answers[0][0]["cameras"] if c["camera_id"] in CAMERAS}
    assert set(cameras) == set(CAMERAS)
    assert all(c["state"] == "idle" and c["current_recording"] is None for c in cameras.values())
    assert all(c["ingest_delay_seconds"] is not None and c["latest_thumbnail"] for c in cameras.values())
    [one] = answers[0][1]["recordings"]
    assert one["recording_id"] == fleet["idx-cam-1"] and one["officer_id"] == "pc-1"
    assert one["duration_seconds"] == pytest.approx(7.0, abs=2.0) and one["chain_head"]
    assert one["retention_category"] == "unmarked" and one["expires_at"] > one["end"]


def test_recording_detail_lists_segments_with_thumbnails_that_decode(settings: Settings, fleet: dict[str, str], worker: WorkerProcess) -> None:
    base = worker.child.url
    wait_for(lambda: closed(base, set(fleet.values())), 60, "closed recordings")
    recording = fleet["idx-cam-0"]
    detail = get(base, f"/api/recordings/{recording}")
    segments = detail["segments"]
    assert [s["sequence"] for s in segments] == list(range(detail["recording"]["segment_count"]))
    # Stored as they arrived: the first segment and one per BWV_THUMBNAIL_INTERVAL_SECONDS of
    # footage (the schedule's rule on each segment's capture times); the rest are cut when asked for.
    stored = [StoredSegment.model_validate(r) for r in records(settings, SEGMENTS_STORED) if r["recording_id"] == recording]
    due = {s.sequence for s in stored if thumbnail_due(s, settings.thumbnail_interval_seconds)}
    assert 0 in due and {s["sequence"] for s in segments if s["thumbnail_stored"]} == due
    for segment in segments:
        status, jpeg, kind = get_bytes("", segment["thumbnail_url"] if segment["thumbnail_url"].startswith("http") else base + segment["thumbnail_url"])
        assert status == 200 and kind == "image/jpeg"
        assert jpeg_size(jpeg) == (320, 240)  # the sample is 320x240: 320 wide, aspect kept


def test_query_filters_and_errors(fleet: dict[str, str], worker: WorkerProcess) -> None:
    base = worker.child.url
    wait_for(lambda: closed(base, set(fleet.values())), 60, "closed recordings")
    by_officer = get(base, "/api/recordings?officer=pc-3")["recordings"]
    assert [r["recording_id"] for r in by_officer] == [fleet["idx-cam-3"]]
    assert get(base, "/api/recordings?since=2001-01-01&until=2001-01-02")["recordings"] == []
    status, body, _ = get_bytes(base, "/api/recordings?since=yesterday")
    assert status == 400 and b"ISO 8601" in body
    assert get_bytes(base, "/api/recordings/no-such-recording")[0] == 404
    assert get_bytes(base, f"/api/recordings/{fleet['idx-cam-0']}/thumbnails/999.jpg")[0] == 404


def test_cli_recordings_prints_the_same(fleet: dict[str, str], worker: WorkerProcess) -> None:
    wait_for(lambda: closed(worker.child.url, set(fleet.values())), 60, "closed recordings")
    result = bwv("recordings", "--camera", "idx-cam-2")
    assert result.returncode == 0, result.stderr
    assert fleet["idx-cam-2"] in result.stdout and "1 recording(s)" in result.stdout
    assert fleet["idx-cam-1"] not in result.stdout


def alerts_of(settings: Settings, recording: str, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return [a for a in records(settings, ALERTS) if a.get("recording_id") == recording and a.get("kind") == kind]


def at_least(n: int, found: list[dict]) -> list[dict] | None:  # type: ignore[type-arg]
    return found if len(found) >= n else None


def test_silent_camera_alert_is_raised_then_cleared(settings: Settings, worker: WorkerProcess) -> None:
    camera, recording = "silent-cam", "silent-rec"
    enroll_cameras(settings, camera)
    publisher = SegmentPublisher(settings)
    publish_ts(publisher, camera, recording, {0: 1, 1: 2})
    raised = wait_for(lambda: alerts_of(settings, recording, "camera_silent"), 30, "the camera_silent alert")
    assert [a["state"] for a in raised] == ["raised"] and raised[0]["camera_id"] == camera
    status = {c["camera_id"]: c for c in get(worker.child.url, "/api/cameras")["cameras"]}[camera]
    assert status["state"] == "silent" and status["live"] is False
    publish_ts(publisher, camera, recording, {2: 9})
    publisher.close()
    both = wait_for(lambda: at_least(2, alerts_of(settings, recording, "camera_silent")), 30, "the clear")
    assert [a["state"] for a in both][:2] == ["raised", "cleared"]
    assert both[0]["dedup_key"] == both[1]["dedup_key"]


def test_dropped_sequence_raises_a_gap_alert_and_undecodable_segment_is_still_footage(settings: Settings, worker: WorkerProcess) -> None:
    camera, recording = "gap-cam", "gap-rec"
    enroll_cameras(settings, camera)
    publisher = SegmentPublisher(settings)
    publish_ts(publisher, camera, recording, {0: 20, 1: 21, 3: 23})  # 2 never sent; these TS-shaped bodies hold no picture
    publisher.close()
    gap = wait_for(lambda: alerts_of(settings, recording, "sequence_gap"), 30, "the gap alert")
    assert len(gap) == 1 and gap[0]["sequence"] == 2
    undecodable = wait_for(lambda: at_least(3, alerts_of(settings, recording, "undecodable_segment")), 30, "3 undecodable alerts")
    assert sorted(a["sequence"] for a in undecodable) == [0, 1, 3]
    summary = wait_for(
        lambda: next((r for r in get(worker.child.url, f"/api/recordings?camera={camera}")["recordings"] if r["segment_count"] == 3), None),
        30,
        "the summary",
    )
    assert summary["missing_sequences"] == 1 and summary["latest_thumbnail"] is None
    assert bwv("verify", recording).returncode == 1  # footage with a hole is not intact: verify says so
