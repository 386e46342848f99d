"""Real-time capacity: how many live cameras one worker keeps up with at p99 capture-end → stored < 1 s.

Each camera publishes one 2 s segment (~4 Mbit/s) every 2 s with current capture
times, the cameras' phases spread evenly over the 2 s. The camera count steps up
(10, 20, 40, …) on one stack and one worker; cameras keep their recordings and
sequence numbers from step to step, new cameras join. A step passes when every
segment was stored within the drain time and the p99 of capture end → stored
(``stored_at`` of bwv.segments.stored) is under the target. The steps stop at the
first failure or when the time budget is spent.

The publisher runs in this process (one kafka-python producer); it can fall
behind its schedule at high counts, so its lateness is reported too: a late
publisher understates the load, never the latency (capture end = hand-over time).

    python -m bench realtime [--steps 10,20,40,60,80,120,160] [--step-seconds 10]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bench.common import BenchSegment, Collector, Fleet, Latency, bench_stack, cpu_seconds, spread_cameras, table


@dataclass(frozen=True)
class Step:
    cameras: int
    segments: int
    stored: int
    megabytes_per_second: float  # offered load
    latency_stored: Latency
    latency_indexed: Latency
    worker_cpu_fraction: float  # of one core, during the step
    s3_cpu_fraction: float
    broker_cpu_fraction: float
    publisher_late_p99: float  # seconds behind schedule
    passed: bool


def run(segments: list[BenchSegment], steps: list[int], step_seconds: float, partitions: int, target_p99: float,
        drain_seconds: float, budget_seconds: float, mode: str = "inline") -> dict[str, Any]:
    started = time.monotonic()
    ids = spread_cameras("rt-cam", max(steps), partitions)
    period = segments[0].duration
    results: list[Step] = []
    with bench_stack(ids, {"BWV_SEGMENT_PARTITIONS": str(partitions), "BWV_CAMERA_SILENT_SECONDS": "30"}) as bs:
        worker = bs.start_worker(thumbnails=mode)
        collector = Collector(bs.settings)
        collector.start()
        collector.ready.wait(30)
        fleet = Fleet(bs.settings, ids, segments)
        sequence = [0] * len(ids)
        try:
            for n in steps:
                if results and time.monotonic() - started + step_seconds + drain_seconds > budget_seconds:
                    break
                step = _step(bs, worker.proc.pid, collector, fleet, sequence, n, period, step_seconds,
                             drain_seconds, target_p99)
                results.append(step)
                _print_step(step)
                if not step.passed:
                    break
        finally:
            fleet.close()
            collector.stop()
    passed = [s.cameras for s in results if s.passed]
    return {"steps": results, "capacity": max(passed, default=0), "target_p99_seconds": target_p99,
            "step_seconds": step_seconds, "thumbnails": mode}


def _step(bs: Any, pid: int, collector: Collector, fleet: Fleet, sequence: list[int], n: int, period: float,
          step_seconds: float, drain_seconds: float, target_p99: float) -> Step:
    rounds = max(1, round(step_seconds / period))
    begin = time.monotonic() + 0.2
    schedule = sorted((begin + r * period + c * period / n, c) for r in range(rounds) for c in range(n))
    keys: list[tuple[str, int]] = []
    late: list[float] = []
    cpu = {p: cpu_seconds(p) for p in (pid, bs.s3_pid, bs.broker_pid)}
    wall0 = time.monotonic()
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
    collector.wait(keys, drain_seconds, thumbnails=False, indexed=True)
    elapsed = time.monotonic() - wall0
    used = {p: (cpu_seconds(p) - cpu[p]) / elapsed for p in cpu}
    stored = [k for k in keys if k in collector.stored]
    latency = Latency.of([collector.stored[k] - fleet.published[k] for k in stored])
    indexed = Latency.of([collector.indexed[k] - fleet.published[k] for k in keys if k in collector.indexed])
    mb_per_s = sum(fleet.sizes[k] for k in keys) / 1e6 / (rounds * period)
    ok = len(stored) == len(keys) and latency.p99 < target_p99
    return Step(n, len(keys), len(stored), round(mb_per_s, 1), latency, indexed, round(used[pid], 2),
                round(used[bs.s3_pid], 2), round(used[bs.broker_pid], 2),
                round(sorted(late)[int(0.99 * (len(late) - 1))], 3), ok)


def _print_step(s: Step) -> None:
    print(f"  {s.cameras:4d} cameras: {s.stored}/{s.segments} stored, p50 {s.latency_stored.p50:.3f} s, "
          f"p99 {s.latency_stored.p99:.3f} s, worker {s.worker_cpu_fraction:.2f} core, "
          f"moto {s.s3_cpu_fraction:.2f} core -> {'pass' if s.passed else 'FAIL'}", flush=True)


def report(result: dict[str, Any]) -> str:
    rows = [[s.cameras, s.megabytes_per_second, f"{s.stored}/{s.segments}", s.latency_stored.p50, s.latency_stored.p95,
             s.latency_stored.p99, s.latency_indexed.p99, s.worker_cpu_fraction, s.s3_cpu_fraction,
             s.broker_cpu_fraction, s.publisher_late_p99, "pass" if s.passed else "FAIL"] for s in result["steps"]]
    out = table(f"Real-time cameras, one worker (thumbnails {result['thumbnails']}): capture end -> stored, seconds",
                ["cameras", "MB/s", "stored", "p50", "p95", "p99", "p99 indexed", "worker cores", "moto cores",
                 "Tansu cores", "publisher late p99", ""], rows)
    out += (f"\nCapacity: {result['capacity']} real-time cameras "
            f"(p99 capture end -> stored < {result['target_p99_seconds']:g} s, every segment stored)")
    return out
