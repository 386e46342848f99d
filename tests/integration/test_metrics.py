"""Prometheus endpoints during a real run: the worker's counters and the camera's move by the right amounts."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bwv.settings import Settings
from bwv.stack import free_port
from producers.publisher import SegmentPublisher
from schemas.layout import segments_prefix
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, enroll_cameras, wait_for
from tests.integration.test_bad_input import send, segment_headers
from tests.integration.test_pipeline import TS_PACKETS, _header, ts_body

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text) for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_worker_counters_move_by_what_happened(settings: Settings, worker: WorkerProcess, raw_producer: KafkaProducer) -> None:
    url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
    camera, recording = "met-cam", "met-rec"
    enroll_cameras(settings, camera)
    before = scrape(url)
    publisher = SegmentPublisher(settings)
    bodies = [ts_body(40 + i, TS_PACKETS) for i in range(3)]
    for i, body in enumerate(bodies):
        publisher.publish(_header(recording, i, body, camera_id=camera), body)
    bad = ts_body(99, TS_PACKETS)
    publisher.publish(_header(recording, 3, bad, sha256="0" * 64, camera_id=camera), bad)  # hash mismatch
    publisher.flush()
    publisher.close()
    body = ts_body(7, TS_PACKETS)
    send(raw_producer, "met-stranger", body, segment_headers("met-stranger", "met-stranger-rec", 0, body))  # unknown camera
    store = ObjectStore(settings)
    wait_for(lambda: len(list(store.list(store.footage_bucket, segments_prefix(recording)))) == 3 or None, 30, "3 stored")

    def moved() -> Samples | None:
        after = scrape(url)
        done = (
            value(after, "bwv_dead_letters_total", reason="unknown_camera") > value(before, "bwv_dead_letters_total", reason="unknown_camera")
            and value(after, "bwv_ingest_latency_seconds_count", stage="indexed") >= value(before, "bwv_ingest_latency_seconds_count", stage="indexed") + 3
            and value(after, "bwv_hash_mismatches_total") > value(before, "bwv_hash_mismatches_total")
            # segment 0's cut finishes off the batch, in the background
            and value(after, "bwv_thumbnail_duration_seconds_count") > value(before, "bwv_thumbnail_duration_seconds_count")
            and any(name == "bwv_consumer_lag" for name, _ in after)  # set every 5 s
        )
        return after if done else None

    after = wait_for(moved, 30, "the counters to move")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bwv_segments_ingested_total", camera_id=camera) == 3
    assert delta("bwv_ingested_bytes_total", camera_id=camera) == sum(len(b) for b in bodies)
    # Refused and quarantined messages leave no state behind, so one redelivered after a
    # rebalance (the previous module stops a worker) is counted again: at least once.
    assert delta("bwv_hash_mismatches_total") >= 1
    assert delta("bwv_quarantined_segments_total", reason="hash_mismatch") >= 1
    assert delta("bwv_alerts_total", kind="hash_mismatch") >= 1
    assert delta("bwv_dead_letters_total", reason="unknown_camera") >= 1
    assert delta("bwv_alerts_total", kind="dead_letter") >= 1
    assert delta("bwv_thumbnails_total", result="undecodable") == 3  # TS-shaped test bodies hold no picture
    # Only segment 0 is cut as it is stored (BWV_THUMBNAIL_INTERVAL_SECONDS); 1 and 2 are only checked for a keyframe.
    assert delta("bwv_thumbnail_duration_seconds_count") == 1
    assert delta("bwv_ingest_latency_seconds_count", stage="stored") == 3
    assert delta("bwv_ingest_latency_seconds_count", stage="indexed") >= 3
    assert any(name.startswith("bwv_messages_received") for name, _ in scrape(f"{worker.child.url}/metrics"))  # Faust's own


def test_camera_publisher_serves_its_spool_metrics(settings: Settings, worker: WorkerProcess) -> None:
    enroll_cameras(settings, "met-live-cam")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bwv", "camera", "--source", "testsrc", "--seconds", "6", "--realtime", "--quiet",
         "--camera-id", "met-live-cam", "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def published() -> Samples | None:
            try:
                samples = scrape(url)
            except OSError:
                return None
            return samples if value(samples, "bwv_publisher_segments_published_total", camera_id="met-live-cam") >= 1 else None

        during = wait_for(published, 30, "the camera's first acknowledged segment")
        assert ("bwv_publisher_spool_depth", ()) in during and ("bwv_publisher_spool_bytes", ()) in during
        assert value(during, "bwv_publisher_spool_full_total") == 0
    finally:
        _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0, errors
