"""Real-time capacity: how many live cameras one worker keeps up with at p99 capture end → stored < 1 s.

Each camera publishes one 2 s segment (~4 Mbit/s) every 2 s with current capture
times, the cameras' phases spread evenly over the 2 s. The camera count steps up
(10, 20, 40, …) on one stack and one worker; cameras keep their recordings and
sequence numbers from step to step, new cameras join. A step passes when every
segment was stored within the drain time and the p99 of capture end → stored
(``stored_at`` of bwv.segments.stored) is under the target. The steps stop at the
first failure or when the time budget is spent.

Two series by default, because of the local broker: Faust fetches with a
1.5 s wait, and Tansu answers a fetch over several partitions only when that
wait runs out (Kafka answers when data arrives). The first series runs the
worker as shipped, so its latency includes that Tansu wait; the second runs it
through ``bench.worker`` with a 10 ms fetch wait, which is what a Kafka broker's
immediate answer looks like to the worker.

Then the raw loop (bench/raw.py, same fetch wait as the last series) gets the
load the last series failed at: if it keeps up there, the worker is the limit,
not moto or the machine.

The publisher runs in this process (one kafka-python producer); it can fall
behind its schedule at high counts, so its lateness is reported too: a late
publisher understates the load, never the latency (capture end = hand-over time).

    python -m bench realtime [--steps 10,20,40,60,80,100,120,160,200] [--step-seconds 10] [--fetch-waits shipped,10]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bench.common import BenchSegment, Collector, Fleet, Latency, bench_stack, cpu_seconds, spread_cameras, table
from bench.raw import raw_child


@dataclass(frozen=True)
class Step:
    series: str
    cameras: int
    segments: int
    stored: int
    megabytes_per_second: float  # offered load
    latency_stored: Latency
    latency_indexed: Latency
    latency_thumbnail: Latency
    worker_cpu_fraction: float  # of one core, during the step
    s3_cpu_fraction: float
    broker_cpu_fraction: float
    publisher_late_p99: float  # seconds behind schedule
    passed: bool


def series_label(fetch_wait_ms: int | None) -> str:
    return "as shipped (Faust fetch wait 1.5 s)" if fetch_wait_ms is None else f"fetch wait {fetch_wait_ms} ms"


def run(segments: list[BenchSegment], steps: list[int], step_seconds: float, partitions: int, target_p99: float,
        drain_seconds: float, budget_seconds: float, mode: str = "inline",
        fetch_waits: tuple[int | None, ...] = (None, 10), raw_reference: bool = True) -> dict[str, Any]:
    deadline = time.monotonic() + budget_seconds
    results: list[Step] = []
    capacity: dict[str, int] = {}
    for wait in fetch_waits:
        label = series_label(wait)
        series = _series(segments, steps, step_seconds, partitions, target_p99, drain_seconds, deadline, mode, wait)
        results += series
        capacity[label] = max((s.cameras for s in series if s.passed), default=0)
    raw = None
    last = [s for s in results if s.series == series_label(fetch_waits[-1])]
    if raw_reference and last and time.monotonic() + step_seconds + 10 < deadline:
        failed = next((s.cameras for s in last if not s.passed), last[-1].cameras)
        raw = _raw_step(segments, failed, step_seconds, partitions, fetch_waits[-1] or 500, target_p99)
        print(f"  raw loop at {failed} cameras: p99 {raw['latency_stored'].p99:.3f} s, "
              f"{raw['stored']}/{raw['segments']} stored", flush=True)
    return {"steps": results, "capacity": capacity, "raw_reference": raw, "target_p99_seconds": target_p99,
            "step_seconds": step_seconds, "thumbnails": mode}


def _series(segments: list[BenchSegment], steps: list[int], step_seconds: float, partitions: int, target_p99: float,
            drain_seconds: float, deadline: float, mode: str, fetch_wait_ms: int | None) -> list[Step]:
    ids = spread_cameras("rt-cam", max(steps), partitions)
    period = segments[0].duration
    label = series_label(fetch_wait_ms)
    out: list[Step] = []
    with bench_stack(ids, {"BWV_SEGMENT_PARTITIONS": str(partitions), "BWV_CAMERA_SILENT_SECONDS": "30"}) as bs:
        worker = bs.start_worker(thumbnails=mode, fetch_wait_ms=fetch_wait_ms)
        collector = Collector(bs.settings)
        collector.start()
        collector.ready.wait(30)
        fleet = Fleet(bs.settings, ids, segments)
        sequence = [0] * len(ids)
        try:
            for n in steps:
                if out and time.monotonic() + step_seconds + drain_seconds > deadline:
                    break
                pids = (worker.proc.pid, bs.s3_pid, bs.broker_pid)
                cpu = {p: cpu_seconds(p) for p in pids}
                wall0 = time.monotonic()
                keys, late = paced(fleet, sequence, n, step_seconds, period)
                collector.wait(keys, drain_seconds, thumbnails=fleet.thumbnailed(keys) if mode != "off" else (), indexed=True)
                elapsed = time.monotonic() - wall0
                used = {p: round((cpu_seconds(p) - cpu[p]) / elapsed, 2) for p in pids}
                stored = [k for k in keys if k in collector.stored]
                latency = Latency.of([collector.stored[k] - fleet.published[k] for k in stored])
                indexed = Latency.of([collector.indexed[k] - fleet.published[k] for k in keys if k in collector.indexed])
                thumbs = Latency.of([collector.thumbnails[k] - fleet.published[k] for k in keys if k in collector.thumbnails])
                mb_per_s = sum(fleet.sizes[k] for k in keys) / 1e6 / (len(keys) / n * period)
                step = Step(label, n, len(keys), len(stored), round(mb_per_s, 1), latency, indexed, thumbs, used[pids[0]],
                            used[pids[1]], used[pids[2]], round(sorted(late)[int(0.99 * (len(late) - 1))], 3),
                            len(stored) == len(keys) and latency.p99 < target_p99)
                out.append(step)
                print(f"  {label}: {n:4d} cameras: {step.stored}/{step.segments} stored, p50 {latency.p50:.3f} s, "
                      f"p99 {latency.p99:.3f} s, worker {step.worker_cpu_fraction:.2f} core, "
                      f"moto {step.s3_cpu_fraction:.2f} core -> {'pass' if step.passed else 'FAIL'}", flush=True)
                if not step.passed:
                    break
        finally:
            fleet.close()
            collector.stop()
    return out


def paced(fleet: Fleet, sequence: list[int], n: int, step_seconds: float, period: float) -> tuple[list[tuple[str, int]], list[float]]:
    """Cameras 0..n-1 each publish one segment per ``period``, phases spread; returns (keys, lateness)."""
    rounds = max(1, round(step_seconds / period))
    begin = time.monotonic() + 0.2
    schedule = sorted((begin + r * period + c * period / n, c) for r in range(rounds) for c in range(n))
    keys: list[tuple[str, int]] = []
    late: list[float] = []
    for due, c in schedule:
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        late.append(max(0.0, -delay))
        seq = sequence[c]
        sequence[c] += 1
        fleet.publish(c, seq, capture_end=datetime.now(timezone.utc))
        keys.append((fleet.recording(fleet.cameras[c]), seq))
    fleet.publisher.flush()
    return keys, late


def _raw_step(segments: list[BenchSegment], n: int, step_seconds: float, partitions: int, fetch_wait_ms: int,
              target_p99: float) -> dict[str, Any]:
    """The raw loop under the same real-time load: can broker + S3 + machine do it at all?"""
    ids = spread_cameras("rt-cam", n, partitions)
    period = segments[0].duration
    with bench_stack(ids, {"BWV_SEGMENT_PARTITIONS": str(partitions)}) as bs:
        out = bs.workdir / "raw.json"
        expect = n * max(1, round(step_seconds / period))
        with raw_child(bs, expect, "--fetch-wait-ms", str(fetch_wait_ms)) as child:
            fleet = Fleet(bs.settings, ids, segments)
            cpu = cpu_seconds(bs.s3_pid)
            wall0 = time.monotonic()
            try:
                keys, _ = paced(fleet, [0] * n, n, step_seconds, period)
            finally:
                fleet.close()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                pass  # some never stored: counted below
            s3_cores = (cpu_seconds(bs.s3_pid) - cpu) / (time.monotonic() - wall0)
        report = json.loads(out.read_text()) if out.exists() else {"segments": 0, "latencies": []}
    latency = Latency.of(report["latencies"])
    return {"cameras": n, "segments": len(keys), "stored": report["segments"], "latency_stored": latency,
            "s3_cores": round(s3_cores, 2), "fetch_wait_ms": fetch_wait_ms,
            "passed": report["segments"] == len(keys) and latency.p99 < target_p99}


def report(result: dict[str, Any]) -> str:
    rows = [[s.series, s.cameras, s.megabytes_per_second, f"{s.stored}/{s.segments}", s.latency_stored.p50,
             s.latency_stored.p95, s.latency_stored.p99, s.latency_indexed.p99, s.latency_thumbnail.p99, s.worker_cpu_fraction,
             s.s3_cpu_fraction, s.broker_cpu_fraction, s.publisher_late_p99, "pass" if s.passed else "FAIL"]
            for s in result["steps"]]
    raw = result.get("raw_reference")
    if raw:
        l = raw["latency_stored"]  # noqa: E741
        rows.append([f"raw loop, fetch wait {raw['fetch_wait_ms']} ms", raw["cameras"], "", f"{raw['stored']}/{raw['segments']}",
                     l.p50, l.p95, l.p99, "", "", "", raw["s3_cores"], "", "", "pass" if raw["passed"] else "FAIL"])
    out = table(f"Real-time cameras, one worker (thumbnails {result['thumbnails']}): capture end -> stored, seconds",
                ["series", "cameras", "MB/s", "stored", "p50", "p95", "p99", "p99 indexed", "p99 thumbnail", "worker cores",
                 "moto cores", "Tansu cores", "publisher late p99", ""], rows)
    for label, cameras in result["capacity"].items():
        out += (f"\nCapacity, {label}: {cameras} real-time cameras "
                f"(p99 capture end -> stored < {result['target_p99_seconds']:g} s, every segment stored)")
    return out


if __name__ == "__main__":
    from bench.__main__ import main

    main(["realtime", *sys.argv[1:]])
