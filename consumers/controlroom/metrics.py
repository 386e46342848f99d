"""The control room's Prometheus metrics, on ``BWV_METRICS_PORT`` (0: not served).

Its own registry, like the worker's (``streams.metrics``), so nothing clashes
when tests run several in one process. Served on its own port only: the web
port admits nobody without a login, and a scraper has none.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

REMUX_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class ControlRoomMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.event_streams = Gauge("bwv_controlroom_event_streams", "Browsers connected to /events", registry=r)
        self.logins = Counter("bwv_controlroom_logins", "Login attempts by result (ok, failed, throttled)", ["result"], registry=r)
        self.actions = Counter(
            "bwv_controlroom_actions",
            "Operator actions (mark, release, export, acknowledge) by result (applied, sent, refused, failed)",
            ["action", "result"],
            registry=r,
        )
        self.custody_events = Counter("bwv_controlroom_custody_events", "Custody events recorded (viewed, played, ...)", ["kind"], registry=r)
        self.remux_seconds = Histogram("bwv_controlroom_remux_seconds", "Time to remux a recording to MP4", buckets=REMUX_BUCKETS, registry=r)
        self.s3_requests = Counter(
            "bwv_controlroom_s3_requests", "S3 requests for playlists and segments (list, head, get)", ["op"], registry=r
        )
        self.segment_lookups = Counter(
            "bwv_controlroom_segment_cache_lookups", "Segments asked of the cache, by result (hit, miss)", ["result"], registry=r
        )
        self.segment_cache_bytes = Gauge("bwv_controlroom_segment_cache_bytes", "Segment bytes held in the cache", registry=r)

    def serve(self, port: int, host: str) -> None:
        """Serve on ``port`` (0: not at all); a taken port is logged, not fatal."""
        if not port:
            return
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            log.error("metrics port %d unavailable (%s): control-room metrics not served", port, exc)
