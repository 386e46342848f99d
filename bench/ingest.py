"""Pipeline throughput and latency: N simulated cameras flood one worker.

Pre-encoded realistic segments (1080p25 H.264 at ~4 Mbit/s with audio, 2 s,
signed by enrolled cameras) are published as fast as the producer takes them.
For each thumbnail setting (BWV_THUMBNAILS=inline|agent|off) a fresh stack and
worker; the raw loop (bench/raw.py) runs on its own fresh stack in the same run,
and the pipeline's throughput is reported as a fraction of it.

Figures per phase:
* segments/s and MB/s from the first publish to the last segment stored (and,
  with thumbnails on, thumbnailed): the worker drains a backlog, as after an outage;
* worker CPU seconds per GB (from /proc: the worker's own cost), and moto's and
  Tansu's, to see where the machine's two cores went;
* latency percentiles from publish to stored (``stored_at`` of
  bwv.segments.stored), to thumbnail (``created_at`` of bwv.thumbnails) and to
  indexed (``updated_at`` of the first bwv.recordings summary that includes the
  segment). Under a flood these measure queueing (a segment waits behind the
  backlog); ``python -m bench realtime`` measures latency at a sustainable load.

    python -m bench ingest [--cameras 8] [--segments 40] [--modes inline,agent,off]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    BenchSegment,
    BenchStack,
    Collector,
    Fleet,
    Latency,
    bench_stack,
    cpu_seconds,
    spread_cameras,
    table,
)

MODES = ("inline", "agent", "off")


@dataclass(frozen=True)
class PipelineFigures:
    mode: str
    workers: int
    segments: int
    megabytes: float
    seconds: float
    segments_per_second: float
    megabytes_per_second: float
    worker_cpu_seconds: float
    worker_cpu_seconds_per_gb: float
    s3_cpu_seconds_per_gb: float
    broker_cpu_seconds_per_gb: float
    publisher_cpu_seconds_per_gb: float  # this process: the cameras' producer and the collector
    latency_stored: Latency
    latency_thumbnail: Latency
    latency_indexed: Latency
    complete: bool
    thumbnails_cut: int = 0  # segments thumbnailed as they were stored (BWV_THUMBNAIL_INTERVAL_SECONDS)


def flood_and_measure(bs: BenchStack, ids: list[str], segments: list[BenchSegment], per_camera: int,
                      mode: str, timeout: float) -> PipelineFigures:
    """Flood the running worker(s) of ``bs`` and measure until everything is stored, thumbnailed, indexed."""
    collector = Collector(bs.settings)
    collector.start()
    collector.ready.wait(30)
    fleet = Fleet(bs.settings, ids, segments)
    pids = [w.proc.pid for w in bs.workers]
    before = {pid: cpu_seconds(pid) for pid in (*pids, bs.s3_pid, bs.broker_pid)}
    own_before = time.process_time()
    try:
        fleet.flood(per_camera)
        keys = list(fleet.published)
        due = fleet.thumbnailed(keys) if mode != "off" else []
        complete = collector.wait(keys, timeout, thumbnails=due, indexed=True)
        used = {pid: cpu_seconds(pid) - before[pid] for pid in before}
        own = time.process_time() - own_before
    finally:
        fleet.close()
        collector.stop()
    stored = [k for k in keys if k in collector.stored]
    t0 = min(fleet.published.values())
    ends = [collector.stored[k] for k in stored]
    if mode != "off":
        ends += [collector.thumbnails[k] for k in stored if k in collector.thumbnails]
    seconds = max(ends) - t0 if ends else float("nan")
    mb = sum(fleet.sizes[k] for k in stored) / 1e6
    gb = mb / 1000 or float("nan")
    worker_cpu = sum(used[pid] for pid in pids)

    def lat(done: dict[tuple[str, int], float]) -> Latency:
        return Latency.of([done[k] - fleet.published[k] for k in keys if k in done])

    return PipelineFigures(
        mode, len(pids), len(stored), round(mb, 1), round(seconds, 2), round(len(stored) / seconds, 1),
        round(mb / seconds, 1), round(worker_cpu, 2), round(worker_cpu / gb, 2), round(used[bs.s3_pid] / gb, 2),
        round(used[bs.broker_pid] / gb, 2), round(own / gb, 2), lat(collector.stored), lat(collector.thumbnails), lat(collector.indexed),
        complete, len(due),
    )


def run_phase(segments: list[BenchSegment], cameras: int, per_camera: int, partitions: int, mode: str,
              timeout: float = 150.0) -> PipelineFigures:
    ids = spread_cameras("bench-cam", cameras, partitions)
    with bench_stack(ids, {"BWV_SEGMENT_PARTITIONS": str(partitions)}) as bs:
        bs.start_worker(thumbnails=mode)
        return flood_and_measure(bs, ids, segments, per_camera, mode, timeout)


def cpu_ceiling(p: Any) -> float:
    """MB/s at which this run's processes would use every core of the machine (nproc / CPU s per MB)."""
    import os

    worker = getattr(p, "worker_cpu_seconds_per_gb", None) or getattr(p, "cpu_seconds_per_gb", 0.0)
    total = worker + p.s3_cpu_seconds_per_gb + p.broker_cpu_seconds_per_gb + p.publisher_cpu_seconds_per_gb
    return round(len(os.sched_getaffinity(0)) * 1000 / total, 1) if total else float("nan")


def report(raw: Any | None, phases: list[PipelineFigures]) -> str:
    """The throughput table (with the ratio to the raw loop) and the latency table."""
    rows: list[list[Any]] = []
    if raw is not None:
        rows.append(["raw loop (consume+SHA-256+PUT)", raw.segments, raw.segments_per_second, raw.megabytes_per_second,
                     "100%", raw.cpu_seconds_per_gb, raw.s3_cpu_seconds_per_gb, raw.broker_cpu_seconds_per_gb,
                     raw.publisher_cpu_seconds_per_gb, cpu_ceiling(raw)])
    for p in phases:
        ratio = f"{100 * p.megabytes_per_second / raw.megabytes_per_second:.0f}%" if raw is not None else "–"
        cut = f" ({p.thumbnails_cut} cut)" if p.mode != "off" else ""
        rows.append([f"pipeline, thumbnails {p.mode}{cut}" + ("" if p.complete else " (INCOMPLETE)"), p.segments,
                     p.segments_per_second, p.megabytes_per_second, ratio, p.worker_cpu_seconds_per_gb,
                     p.s3_cpu_seconds_per_gb, p.broker_cpu_seconds_per_gb, p.publisher_cpu_seconds_per_gb,
                     cpu_ceiling(p)])
    out = table("Throughput, one worker (flood); CPU seconds per GB ingested, by process; the MB/s at which "
                "they would fill every core",
                ["what", "segments", "seg/s", "MB/s", "of raw", "worker", "moto", "Tansu", "publisher",
                 "CPU ceiling MB/s"], rows)
    lat_rows: list[list[Any]] = []
    if raw is not None:
        l = raw.latency_stored  # noqa: E741
        lat_rows.append(["raw loop", "stored", l.p50, l.p95, l.p99, l.max])
    for p in phases:
        for what, l in (("stored", p.latency_stored), ("thumbnail", p.latency_thumbnail), ("indexed", p.latency_indexed)):  # noqa: E741
            if l.count:
                lat_rows.append([f"thumbnails {p.mode}", what, l.p50, l.p95, l.p99, l.max])
    out += table("Latency from publish under the flood, seconds (queueing behind the backlog)",
                 ["run", "to", "p50", "p95", "p99", "max"], lat_rows)
    return out


if __name__ == "__main__":
    import sys

    from bench.__main__ import main

    main(["ingest", *sys.argv[1:]])
