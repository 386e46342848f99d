"""`bwv tail` on the real broker: JSON records pretty-printed, segments as header + size, never video."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from kafka import KafkaProducer

from bwv.settings import Settings
from schemas.headers import encode_headers
from schemas.records import Alert, RecordingEnd, SegmentHeader, Severity
from schemas.topics import ALERTS, SEGMENTS
from tests.helpers import bwv

pytestmark = pytest.mark.integration

VIDEO_MARKER = b"NOT-FOR-THE-TERMINAL"


@pytest.fixture(scope="module")
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=4 * 1024 * 1024)
    yield producer
    producer.close()


def send_alerts(producer: KafkaProducer, tag: str, n: int) -> list[Alert]:
    alerts = [
        Alert(kind="tail_test", severity=Severity.info, dedup_key=f"{tag}-{i}", message=f"tail test {tag} #{i}")
        for i in range(n)
    ]
    for alert in alerts:
        producer.send(ALERTS, key=alert.dedup_key.encode(), value=alert.to_json())
    producer.flush()
    return alerts


def test_tail_prints_json_records_of_a_metadata_topic(producer: KafkaProducer) -> None:
    tag = f"tail-{uuid.uuid4().hex[:8]}"
    send_alerts(producer, tag, 3)
    result = bwv("tail", ALERTS, "--from-beginning", "--no-follow")
    assert result.returncode == 0, result.stderr
    for i in range(3):
        assert f'"dedup_key": "{tag}-{i}"' in result.stdout  # pretty JSON, one field a line
        assert f"key {tag}-{i}" in result.stdout
    assert "does not match" not in result.stdout


def test_tail_limit_stops_after_n_records(producer: KafkaProducer) -> None:
    send_alerts(producer, f"tail-{uuid.uuid4().hex[:8]}", 2)
    result = bwv("tail", ALERTS, "--from-beginning", "--no-follow", "--limit", "1")
    assert result.returncode == 0, result.stderr
    assert sum(line.startswith(f"{ALERTS} partition ") for line in result.stdout.splitlines()) == 1
    assert result.stderr.strip() == "1 record"


def test_tail_without_from_beginning_and_follow_prints_nothing_old(producer: KafkaProducer) -> None:
    send_alerts(producer, f"tail-{uuid.uuid4().hex[:8]}", 1)
    result = bwv("tail", ALERTS, "--no-follow")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == "0 records"


def test_tail_of_segments_shows_header_and_size_never_video(producer: KafkaProducer) -> None:
    camera = f"tail-cam-{uuid.uuid4().hex[:8]}"
    body = b"\x47" + VIDEO_MARKER + b"\x00" * 5000
    now = datetime.now(timezone.utc)
    header = SegmentHeader(
        camera_id=camera, officer_id="pc-1", recording_id=f"{camera}-rec", sequence=0, capture_start=now,
        capture_end=now, codec="h264", width=320, height=240, fps=25, byte_size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    end = RecordingEnd(camera_id=camera, recording_id=f"{camera}-rec", segment_count=1, ended_at=now)
    producer.send(SEGMENTS, key=camera.encode(), value=body, headers=encode_headers(header))
    producer.send(SEGMENTS, key=camera.encode(), value=b"", headers=encode_headers(end))
    producer.send(SEGMENTS, key=camera.encode(), value=b"junk", headers=[("something-else", b"1")])
    producer.flush()

    result = bwv("tail", SEGMENTS, "--from-beginning", "--no-follow")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert VIDEO_MARKER.decode() not in out
    assert f"SegmentHeader v1 in header bwv-segment; value {len(body):,} bytes (video not shown)" in out
    assert f'"sha256": "{header.sha256}"' in out
    assert "RecordingEnd v1 in header bwv-recording-end; value 0 bytes (empty)" in out
    assert f'"recording_id": "{camera}-rec"' in out
    assert "undecodable headers: missing_header" in out


def test_unknown_topic_is_one_line_listing_known_topics() -> None:
    result = bwv("tail", "bwv.nope", "--no-follow")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown topic 'bwv.nope'" in lines[0]
    assert all(t in lines[0] for t in (SEGMENTS, ALERTS))


def test_follow_prints_new_records_and_ctrl_c_exits_130(producer: KafkaProducer) -> None:
    tag = f"tail-{uuid.uuid4().hex[:8]}"
    send_alerts(producer, tag, 1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bwv", "tail", ALERTS, "--from-beginning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # blocks until tail prints our record: it is following
            seen.append(line)
            if f'"dedup_key": "{tag}-0"' in line:
                break
        else:
            pytest.fail(f"tail ended before printing the record: {''.join(seen)[-2000:]}")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
