"""Scaling: 1 vs 2 worker processes in one consumer group on the same topic (flood, thumbnails inline).

Parallelism comes from partitions: cameras are spread evenly over them, and the
two workers split the partitions. Each count gets a fresh stack; with two
workers the flood starts only once the group has settled (each worker's latest
assignment of bwv.segments non-empty, disjoint, covering every partition).

    python -m bench scaling [--cameras 8] [--segments 40] [--modes inline,off]
"""

from __future__ import annotations

import re
import time
from typing import Any

from bench.common import BenchSegment, BenchStack, bench_stack, spread_cameras, table
from bench.ingest import PipelineFigures, cpu_ceiling, flood_and_measure

ASSIGNED = "Setting newly assigned partitions"
ROW = re.compile(r"^\|\s*(?P<topic>\S+)\s*\|\s*\{(?P<partitions>[^}]*)\}\s*\|")


def _assigned(log: str, topic: str) -> set[int] | None:
    """The partitions of ``topic`` in a worker's latest assignment (Faust logs it as a table)."""
    at = log.rfind(ASSIGNED)
    if at < 0:
        return None
    found: set[int] = set()
    for line in log[at:].splitlines()[1:]:
        if not line.startswith(("|", "+")):
            break
        match = ROW.match(line)
        if match and match["topic"] == topic:
            for part in filter(None, (p.strip() for p in match["partitions"].split(","))):
                low, _, high = part.partition("-")
                found.update(range(int(low), int(high or low) + 1))
    return found


def _settled(bs: BenchStack, partitions: int, timeout: float = 60.0) -> None:
    from schemas.topics import SEGMENTS

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sets = [_assigned(bs.worker_log(n), SEGMENTS) for n in range(len(bs.workers))]
        if all(sets) and set().union(*sets) == set(range(partitions)) and sum(map(len, sets)) == partitions:  # type: ignore[arg-type]
            time.sleep(1.0)  # let the last worker's agents start on their new partitions
            return
        time.sleep(0.2)
    raise RuntimeError(f"the {len(bs.workers)} workers did not settle on {partitions} partitions in {timeout:.0f} s")


def run_phase(segments: list[BenchSegment], workers: int, cameras: int, per_camera: int, partitions: int,
              mode: str = "inline", timeout: float = 150.0) -> PipelineFigures:
    ids = spread_cameras("bench-cam", cameras, partitions)
    with bench_stack(ids, {"BWV_SEGMENT_PARTITIONS": str(partitions)}) as bs:
        for _ in range(workers):
            bs.start_worker(thumbnails=mode)
        if workers > 1:
            _settled(bs, partitions)
        return flood_and_measure(bs, ids, segments, per_camera, mode, timeout)


def report(phases: list[PipelineFigures]) -> str:
    base = phases[0].segments_per_second
    rows = [[p.workers, p.segments, p.segments_per_second, p.megabytes_per_second,
             f"{p.segments_per_second / base:.2f}x", p.worker_cpu_seconds_per_gb, p.s3_cpu_seconds_per_gb,
             p.broker_cpu_seconds_per_gb, p.publisher_cpu_seconds_per_gb, cpu_ceiling(p), p.latency_stored.p50]
            for p in phases]
    return table(f"Scaling (thumbnails {phases[0].mode}, flood); CPU seconds per GB, by process",
                 ["workers", "segments", "seg/s", "MB/s", "speed-up", "workers (all)", "moto", "Tansu", "publisher",
                  "CPU ceiling MB/s", "p50 stored s"], rows)


def speedup(phases: list[PipelineFigures]) -> float:
    return round(phases[-1].segments_per_second / phases[0].segments_per_second, 2)


def summary(phases: list[PipelineFigures]) -> dict[str, Any]:
    return {"phases": phases, "speedup": speedup(phases)}


if __name__ == "__main__":
    import sys

    from bench.__main__ import main

    main(["scaling", *sys.argv[1:]])
