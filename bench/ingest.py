"""One worker's ingest throughput on the local stack: segments/s, MB/s, CPU s/GB.

Pre-encoded realistic segments (1080p H.264 at ~4 Mbit/s, 2 s) are published by
several cameras as fast as possible; the clock runs from the first publish to the
last stored-segment record. Worker CPU is read from /proc, so it is the worker's
own cost, not the publisher's or the S3 endpoint's.

    python -m bench.ingest [--cameras 8] [--segments 25] [--json bench/results/ingest.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bwv.cameras import enroll
from bwv.settings import Settings
from bwv.stack import LocalStack, free_port, start_worker
from consumers.topic_reader import read_topic
from producers.camera import CameraIdentity, build_header
from producers.publisher import SegmentPublisher
from producers.segmenter import Segment, segment_source
from producers.testsrc import write_test_file
from schemas.topics import SEGMENTS_STORED
from streams.admin import init_all


@dataclass
class IngestFigures:
    segments: int
    megabytes: float
    seconds: float
    segments_per_second: float
    megabytes_per_second: float
    worker_cpu_seconds: float
    worker_cpu_seconds_per_gb: float


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def realistic_segments(workdir: Path, seconds: float) -> list[Segment]:
    source = workdir / "1080p.mp4"
    write_test_file(source, seconds, width=1920, height=1080, fps=25, gop_seconds=2.0, audio=True, bitrate=4_000_000)
    return list(segment_source(str(source), 2.0))


def camera_name(index: int) -> str:
    return f"bench-cam-{index:03d}"


def run(cameras: int, segments_per_camera: int, partitions: int) -> IngestFigures:
    with tempfile.TemporaryDirectory(prefix="bwv-bench-") as tmp:
        workdir = Path(tmp)
        segments = realistic_segments(workdir, 2.0 * min(segments_per_camera, 10))
        stack = LocalStack.start(workdir / "logs")
        try:
            os.environ.update({**stack.env(), "BWV_SEGMENT_PARTITIONS": str(partitions),
                               "BWV_REBALANCE_TIMEOUT": "5", "BWV_SESSION_TIMEOUT": "5", "BWV_LOG_LEVEL": "warn",
                               "BWV_CAMERA_KEYS_DIR": str(workdir / "keys")})
            settings = Settings()
            init_all(settings)
            for c in range(cameras):
                enroll(settings, camera_name(c))
            worker = start_worker(
                {"BWV_WEB_PORT": str(free_port()), "BWV_DATA_DIR": str(workdir / "data"), "BWV_LOG_LEVEL": "info"},
                workdir / "logs" / "worker.log",
            )
            stack.children.append(worker)
            return _measure(settings, worker.proc.pid, segments, cameras, segments_per_camera)
        finally:
            stack.stop()


def _measure(settings: Settings, pid: int, segments: list[Segment], cameras: int, per_camera: int) -> IngestFigures:
    publisher = SegmentPublisher(settings)
    start = datetime.now(timezone.utc)
    total = cameras * per_camera
    sent_bytes = 0
    cpu_before = cpu_seconds(pid)
    t0 = time.monotonic()
    for i in range(per_camera):
        segment = segments[i % len(segments)]
        for c in range(cameras):
            identity = CameraIdentity(camera_name(c), f"officer-{c:03d}", f"bench-rec-{c:03d}")
            indexed = Segment(i, segment.data, i * 2.0, segment.duration, segment.codec, segment.width, segment.height, segment.fps)
            publisher.publish(build_header(identity, indexed, start), segment.data)
            sent_bytes += len(segment.data)
    publisher.flush()
    stored = 0
    for _ in read_topic(settings, SEGMENTS_STORED, follow=True):
        stored += 1
        if stored >= total:
            break
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu_before
    mb = sent_bytes / 1e6
    return IngestFigures(total, round(mb, 1), round(elapsed, 2), round(total / elapsed, 1),
                         round(mb / elapsed, 1), round(cpu, 2), round(cpu / (mb / 1000), 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--segments", type=int, default=25, help="segments per camera")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--json", type=Path, default=Path("bench/results/ingest.json"))
    args = parser.parse_args()
    figures = run(args.cameras, args.segments, args.partitions)
    for name, value in asdict(figures).items():
        print(f"{name:28} {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(asdict(figures), indent=2))


if __name__ == "__main__":
    main()
