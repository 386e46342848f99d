"""The raw limit: aiokafka consume + hashlib SHA-256 + S3 PUT (minio SDK, thread pool), nothing else.

No headers parsed, no signature, no chain, no state, no records sent, no
thumbnail: the least any ingest of these segments must do on this broker and
this S3 endpoint. It runs in its own process (``--child``) so its CPU is its
own, consumes ``bwv.segments`` without a consumer group, and keeps ``--threads``
PUTs in flight (the worker's BWV_S3_THREADS default). The pipeline's throughput
is reported as a fraction of this loop's, measured the same way: the same
segments flooded by the same publisher into a fresh stack.

    python -m bench raw [--cameras 8] [--segments 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BenchSegment, Fleet, Latency, bench_stack, cpu_seconds, spread_cameras

RAW_PREFIX = "bench-raw"


@dataclass(frozen=True)
class RawFigures:
    segments: int
    megabytes: float
    seconds: float
    segments_per_second: float
    megabytes_per_second: float
    cpu_seconds: float
    cpu_seconds_per_gb: float
    s3_cpu_seconds_per_gb: float
    broker_cpu_seconds_per_gb: float
    publisher_cpu_seconds_per_gb: float
    latency_stored: Latency
    threads: int


# --- the loop (child process) ---------------------------------------------------------


def _client(endpoint: str, access: str, secret: str, region: str, threads: int) -> Any:
    """The worker's minio client class: a PUT is signed with the digest just computed, not hashed twice."""
    import urllib3

    from streams.objectstore import DigestSignedMinio

    secure = endpoint.startswith("https://")
    host = endpoint.split("://", 1)[1].rstrip("/")
    http = urllib3.PoolManager(maxsize=max(10, threads), retries=False,
                               timeout=urllib3.Timeout(connect=5, read=30))
    return DigestSignedMinio(host, access_key=access, secret_key=secret, secure=secure, region=region, http_client=http)


async def raw_loop(expect: int, threads: int, fetch_wait_ms: int = 500) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from bwv.settings import Settings
    from schemas.topics import SEGMENTS
    from streams.objectstore import BODY_SHA256_HEADER

    settings = Settings()
    client = _client(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key.get_secret_value(),
                     settings.s3_region, threads)
    bucket = settings.footage_bucket
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","), group_id=None, enable_auto_commit=False,
        max_partition_fetch_bytes=2 * settings.max_segment_bytes, fetch_max_bytes=4 * settings.max_segment_bytes,
        fetch_max_wait_ms=fetch_wait_ms,
    )
    await consumer.start()
    tps = [TopicPartition(SEGMENTS, p) for p in sorted(consumer.partitions_for_topic(SEGMENTS) or ())]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    print("ready", flush=True)

    def store(partition: int, offset: int, value: bytes) -> float:
        digest = hashlib.sha256(value).hexdigest()
        headers = {"Content-Type": "video/mp2t", "x-amz-meta-bwv-sha256": digest, BODY_SHA256_HEADER: digest}
        client._put_object(bucket, f"{RAW_PREFIX}/{partition}/{offset:010d}.ts", value, headers)  # noqa: SLF001
        return time.time()

    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(threads, thread_name_prefix="raw-s3")
    window = asyncio.Semaphore(threads)
    latencies: list[float] = []
    done_at: list[float] = []
    sizes = 0
    pending: set[asyncio.Future[float]] = set()
    cpu_start: float | None = None
    received = 0
    try:
        while received < expect:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for m in messages:
                    if not m.value:
                        continue  # an end marker
                    if cpu_start is None:
                        usage = resource.getrusage(resource.RUSAGE_SELF)
                        cpu_start = usage.ru_utime + usage.ru_stime
                    received += 1
                    sizes += len(m.value)
                    await window.acquire()
                    fut = loop.run_in_executor(pool, store, m.partition, m.offset, m.value)
                    published = m.timestamp / 1000

                    def finished(f: asyncio.Future[float], published: float = published) -> None:
                        window.release()
                        pending.discard(f)
                        if not f.cancelled() and f.exception() is None:
                            done_at.append(f.result())
                            latencies.append(f.result() - published)

                    pending.add(fut)
                    fut.add_done_callback(finished)
        while pending:
            await asyncio.wait(set(pending))
    finally:
        await consumer.stop()
        pool.shutdown()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"segments": len(done_at), "bytes": sizes, "last_done": max(done_at, default=0.0),
            "cpu_seconds": usage.ru_utime + usage.ru_stime - (cpu_start or 0.0), "latencies": latencies}


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fetch-wait-ms", type=int, default=500, help="aiokafka's default: 500")
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(asyncio.run(raw_loop(args.expect, args.threads, args.fetch_wait_ms))))


# --- the phase (parent) ---------------------------------------------------------------


@contextlib.contextmanager
def raw_child(bs: Any, expect: int, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """The raw loop in its own process (its CPU its own), consuming ``bs``'s broker; killed if
    still running when the block ends. Its report is ``bs.workdir / "raw.json"``."""
    log = bs.workdir / "logs" / "raw.log"
    with open(log, "wb") as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.raw", "--child", "--expect", str(expect), "--out", str(bs.workdir / "raw.json"),
             *args],
            stdout=subprocess.PIPE, stderr=errors, env=dict(os.environ),
        )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the raw loop did not start; see {log}")
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def run_phase(segments: list[BenchSegment], cameras: int, per_camera: int, partitions: int,
              threads: int = 8, timeout: float = 120.0) -> RawFigures:
    """A fresh stack; the raw loop consumes while the fleet floods; figures from its report."""
    ids = spread_cameras("bench-cam", cameras, partitions)
    with bench_stack(ids, {"BWV_SEGMENT_PARTITIONS": str(partitions)}) as bs:
        with raw_child(bs, cameras * per_camera, "--threads", str(threads)) as child:
            fleet = Fleet(bs.settings, ids, segments)
            cpu = {pid: cpu_seconds(pid) for pid in (bs.s3_pid, bs.broker_pid)}
            own = time.process_time()
            try:
                fleet.flood(per_camera)
            finally:
                fleet.close()
            child.wait(timeout)
            s3_cpu, broker_cpu = (cpu_seconds(pid) - cpu[pid] for pid in (bs.s3_pid, bs.broker_pid))
            own = time.process_time() - own
        if child.returncode != 0:
            raise RuntimeError(f"the raw loop failed ({child.returncode}): "
                               f"{(bs.workdir / 'logs' / 'raw.log').read_text()[-2000:]}")
        report = json.loads((bs.workdir / "raw.json").read_text())
    t0 = min(fleet.published.values())
    seconds = report["last_done"] - t0
    mb = report["bytes"] / 1e6
    gb = mb / 1000
    return RawFigures(
        report["segments"], round(mb, 1), round(seconds, 2), round(report["segments"] / seconds, 1),
        round(mb / seconds, 1), round(report["cpu_seconds"], 2), round(report["cpu_seconds"] / gb, 2),
        round(s3_cpu / gb, 2), round(broker_cpu / gb, 2), round(own / gb, 2), Latency.of(report["latencies"]), threads,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child_main(sys.argv[2:])
    else:
        from bench.__main__ import main

        main(["raw", *sys.argv[1:]])
