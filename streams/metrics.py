"""The worker's Prometheus metrics: domain counters beside Faust's own sensor.

Each Pipeline gets its own CollectorRegistry rather than prometheus-client's
process-wide default: two Pipelines in one process (tests, or several workers in
one process group) never clash on a duplicated metric name, and each endpoint
serves exactly its own worker. The registry is served twice: at ``/metrics`` on
the Faust web port (with Faust's internals) and on ``BWV_METRICS_PORT``.

Names follow Prometheus conventions: ``bwv_`` prefix, base units, ``_total``
counters, ``_seconds`` and ``_bytes`` units.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

# Seconds from capture end to stored / from stored to indexed: sub-second to minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
THUMBNAIL_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.segments = Counter("bwv_segments_ingested", "Segments stored as footage", ["camera_id"], registry=r)
        self.bytes = Counter("bwv_ingested_bytes", "Bytes of footage stored", ["camera_id"], registry=r)
        self.latency = Histogram(
            "bwv_ingest_latency_seconds",
            "Capture end to stored (stage=stored), stored to indexed (stage=indexed)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.hash_mismatches = Counter("bwv_hash_mismatches", "Segments whose SHA-256 differed from the camera's", registry=r)
        self.quarantined = Counter("bwv_quarantined_segments", "Segments kept in quarantine", ["reason"], registry=r)
        self.dead_letters = Counter("bwv_dead_letters", "Messages refused into the dead-letter topic", ["reason"], registry=r)
        self.thumbnails = Counter("bwv_thumbnails", "Segments thumbnailed (result=ok), only checked for a keyframe (deferred: cut on demand) or without a picture (undecodable)", ["result"], registry=r)
        self.thumbnail_seconds = Histogram(
            "bwv_thumbnail_duration_seconds", "Time to cut one thumbnail", buckets=THUMBNAIL_BUCKETS, registry=r
        )
        self.alerts = Counter("bwv_alerts", "Alerts raised", ["kind"], registry=r)
        self.deletions = Counter("bwv_deletions", "Recordings whose footage was deleted at expiry", registry=r)
        self.deleted_bytes = Counter("bwv_deleted_bytes", "Bytes of footage deleted at expiry", registry=r)
        self.evidence = Counter("bwv_evidence_marks", "Evidence commands applied", ["action"], registry=r)
        self.storage_errors = Counter("bwv_storage_errors", "Object-store calls that failed", registry=r)
        self.storage_retries = Counter("bwv_storage_retries", "Object-store calls retried after a failure", registry=r)
        self.live_cameras = Gauge("bwv_live_cameras", "Cameras of this worker's partitions that sent a segment lately", registry=r)
        self.recovered_skips = Counter(
            "bwv_recovered_skips", "Segments the consumer skipped, read again from their offsets and stored", registry=r
        )
        self.lag = Gauge("bwv_consumer_lag", "Messages of bwv.segments not yet committed", ["partition"], registry=r)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve the registry on ``port`` (0: not at all). A taken port is logged, not fatal:
        the same metrics stay at /metrics on the Faust web port."""
        if not port:
            return
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            log.error("metrics port %d unavailable (%s): metrics only at /metrics on the web port", port, exc)
