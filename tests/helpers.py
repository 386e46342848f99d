"""Test helpers that drive real processes: the worker, the CLI, topic reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bwv.cameras import enroll
from bwv.settings import Settings
from bwv.stack import Child, LocalStack, free_port, start_worker
from consumers.topic_reader import read_topic
from schemas.layout import segments_prefix

if TYPE_CHECKING:  # the camera side pulls in PyAV: imported where used, not by every test session
    from producers.camera import CameraIdentity
    from producers.publisher import SegmentPublisher
    from producers.segmenter import Segment
    from streams.objectstore import ObjectStore

T = TypeVar("T")

TEST_ENV = {
    "BWV_SEGMENT_PARTITIONS": "4",
    "BWV_REBALANCE_TIMEOUT": "5",
    "BWV_SESSION_TIMEOUT": "5",
    "BWV_SEGMENT_SECONDS": "2",
    "BWV_LOG_LEVEL": "info",
    "BWV_MAX_SEGMENT_BYTES": str(2 * 1024 * 1024),
    # Index periods in seconds, so silence and idle closing happen within a test.
    "BWV_CAMERA_SILENT_SECONDS": "3",
    "BWV_RECORDING_IDLE_SECONDS": "12",
    "BWV_INDEX_CHECK_INTERVAL": "0.5",
}


def stack_env(local: LocalStack, keys: Path, spool: Path) -> dict[str, str]:
    """The BWV_* a test stack's processes run with: its broker and S3, test periods, its camera keys and spool."""
    return {
        **local.env(),
        **TEST_ENV,
        "BWV_CAMERA_KEYS_DIR": str(keys),
        "BWV_SPOOL_DIR": str(spool),
        "BWV_SEAL_KEY_FILE": str(keys / "bwv-seal.key"),
    }


@contextmanager
def own_stack(base: Path, extra: dict[str, str] | None = None) -> Iterator[tuple[dict[str, str], Settings]]:
    """A broker and S3 endpoint of a test's own, topics and buckets made: what a test does to
    them (offsets moved, footage expired) later tests do not inherit. Yields its env and settings."""
    from streams.admin import init_all

    local = LocalStack.start(base / "logs")
    try:
        env = {**stack_env(local, base / "keys", base / "spool"), **(extra or {})}
        settings = Settings(**{k.removeprefix("BWV_").lower(): v for k, v in env.items()})
        init_all(settings)
        yield env, settings
    finally:
        local.stop()


def bwv(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bwv", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class WorkerProcess:
    """A real ``bwv worker`` process, with its log at hand for assertions."""

    child: Child
    metrics_port: int = 0

    @classmethod
    def start(cls, base: Path, web_port: int, env: dict[str, str] | None = None) -> "WorkerProcess":
        # Each worker its own metrics port: several run on this one host.
        metrics_port = free_port()
        worker_env = {
            "BWV_WEB_PORT": str(web_port),
            "BWV_DATA_DIR": str(base / f"data-{web_port}"),
            "BWV_METRICS_PORT": str(metrics_port),
            **(env or {}),
        }
        return cls(start_worker(worker_env, base / f"worker-{web_port}.log"), int(worker_env["BWV_METRICS_PORT"]))

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.child.proc

    def log(self) -> str:
        assert self.child.log_path is not None
        return self.child.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if sig == signal.SIGKILL:
            self.proc.kill()
            self.proc.wait()
        else:
            self.child.stop(timeout=30)


@contextmanager
def without_session_worker(worker: WorkerProcess, base: Path) -> Iterator[None]:
    """Stop the session's worker while a test runs its own (it would share their consumer group), then start it again."""
    worker.stop()
    try:
        yield
    finally:
        worker.child = WorkerProcess.start(base, free_port()).child


def publish_numbered(publisher: SegmentPublisher, source: Sequence[Segment], cameras: Sequence[CameraIdentity], count: int) -> None:
    """Publish ``count`` segments for every camera, round by round, and flush.

    Segment i is the source's i-th (looping), renumbered i with 2 s timestamps, so a
    short sample file makes a recording of any length.
    """
    from producers.camera import build_header
    from producers.segmenter import Segment

    start = datetime.now(timezone.utc)
    for i in range(count):
        segment = source[i % len(source)]
        numbered = Segment(i, segment.data, i * 2.0, segment.duration, segment.codec, segment.width, segment.height, segment.fps)
        for identity in cameras:
            publisher.publish(build_header(identity, numbered, start), segment.data)
    publisher.flush()


def stored_versions(store: ObjectStore, recording_id: str) -> Counter[str]:
    """Object versions per segment key: more than one means the segment was written twice."""
    found = store.client.list_objects(store.footage_bucket, prefix=segments_prefix(recording_id), include_version=True)
    return Counter(o.object_name for o in found if not o.is_delete_marker)


def records(settings: Settings, topic: str, idle: float = 0.5) -> list[dict[str, object]]:
    """Every JSON record of a metadata topic, in partition/offset order."""
    return [json.loads(m.value) for m in read_topic(settings, topic, idle_timeout=idle) if m.value]


def write_sample_video(path: Path, seconds: float) -> Path:
    """H.264 + AAC at 320x240, 25 fps, 1 s GOP: real footage the camera cuts into 2 s segments."""
    from producers.testsrc import write_test_file  # PyAV: only for the tests that make footage

    write_test_file(path, seconds, width=320, height=240, fps=25, gop_seconds=1.0, audio=True)
    return path


def enroll_cameras(settings: Settings, *camera_ids: str) -> None:
    """Give each test camera a signing key and register it, as an operator would."""
    for camera_id in camera_ids:
        enroll(settings, camera_id, by="pytest")
