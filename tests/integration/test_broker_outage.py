"""Broker outage: a live camera keeps recording into its spool and loses nothing.

A broker of its own for this module, advertised on a FaultProxy port, so every
client connection (bootstrap and partition leader alike) goes through the proxy
and ``proxy.down()`` cuts the camera off completely while Tansu keeps its data.
No worker: reading bwv.segments back proves what was delivered.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bwv.settings import Settings
from bwv.stack import Child, free_port, start_broker
from consumers.topic_reader import read_topic
from producers.keys import KeyRing
from producers.spool import Spool
from schemas.headers import decode_headers
from schemas.records import RecordingEnd, SegmentHeader
from schemas.topics import SEGMENTS
from streams.admin import create_topics
from tests.faultproxy import FaultProxy
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30
RECORD_SECONDS = 40  # 20 segments of 2 s: the outage falls in the middle
MAX_SEGMENT_BYTES = 2 * 1024 * 1024


@dataclass
class Outage:
    proxy: FaultProxy
    settings: Settings
    base: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "BWV_KAFKA_BOOTSTRAP": self.proxy.address,
            "BWV_SPOOL_DIR": str(self.base / "spool"),
            "BWV_CAMERA_KEYS_DIR": str(self.base / "keys"),
            "BWV_MAX_SEGMENT_BYTES": str(MAX_SEGMENT_BYTES),
            "BWV_SEGMENT_SECONDS": "2",
            **extra,
        }

    def spooled(self, camera_id: str) -> int:
        return len(list((self.base / "spool" / camera_id).glob("*.msg")))


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    base = tmp_path_factory.mktemp("outage")
    proxy = FaultProxy("127.0.0.1", free_port())  # holds its port before the broker picks one
    broker_port = free_port()
    proxy.target = ("127.0.0.1", broker_port)
    broker: Child = start_broker(broker_port, log_path=base / "kafka.log", advertised_port=proxy.port)
    try:
        settings = Settings(kafka_bootstrap=proxy.address, segment_partitions=2, max_segment_bytes=MAX_SEGMENT_BYTES)
        create_topics(settings)
        yield Outage(proxy, settings, base)
    finally:
        proxy.close()
        broker.stop()


def enroll_key(outage: Outage, camera_id: str) -> None:
    KeyRing(outage.base / "keys").ensure(camera_id)


@dataclass
class Camera:
    """A real `bwv camera` process whose stderr is collected line by line as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @classmethod
    def start(cls, args: list[str], env: dict[str, str]) -> "Camera":
        proc = subprocess.Popen(
            [sys.executable, "-m", "bwv", "camera", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
        )
        camera = cls(proc)
        camera._reader = threading.Thread(target=camera._collect, daemon=True)
        camera._reader.start()
        return camera

    def _collect(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def finish(self, timeout: float) -> tuple[int, str, str]:
        self.proc.wait(timeout)  # stdout is one line: it fits the pipe, no need to drain it meanwhile
        assert self.proc.stdout is not None and self._reader is not None
        stdout = self.proc.stdout.read()
        self._reader.join(5)  # stderr is read by our thread only
        return self.proc.returncode, stdout, self.stderr


def delivered(settings: Settings, camera_id: str) -> list[tuple[SegmentHeader | RecordingEnd, bytes]]:
    """This camera's messages on bwv.segments, in offset order (one partition per key)."""
    return [
        (decode_headers(m.headers), m.value or b"")
        for m in read_topic(settings, SEGMENTS, idle_timeout=2.0)
        if m.key == camera_id.encode()
    ]


def test_thirty_second_broker_outage_loses_and_reorders_nothing(outage: Outage) -> None:
    camera_id = "outage-cam"
    enroll_key(outage, camera_id)
    started = time.monotonic()
    # BWV_DELIVERY_TIMEOUT=5: the producer gives up on the oldest message several
    # times during the outage, so the spool's re-send path runs for real.
    camera = Camera.start(
        ["--source", "testsrc", "--realtime", "--seconds", str(RECORD_SECONDS), "--camera-id", camera_id,
         "--width", "320", "--height", "180", "--bitrate", "400000"],
        outage.env(BWV_DELIVERY_TIMEOUT="5"),
    )
    try:
        # Cut the link right after segment 2 was acknowledged (spool empty), so no
        # request is in flight: a reply lost mid-flight could legitimately cause a
        # duplicate (at-least-once; the worker stores a re-sent segment once).
        wait_for(lambda: "segment 2:" in camera.stderr and outage.spooled(camera_id) == 0, 30, "segment 2 acknowledged")
        outage.proxy.down()
        down_at = time.monotonic()
        max_depth = 0
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            max_depth = max(max_depth, outage.spooled(camera_id))
            assert camera.proc.poll() is None, camera.stderr  # the camera records on through the outage
            time.sleep(0.2)
        outage.proxy.up()
        up_at = time.monotonic()
        drained_after = None
        while camera.proc.poll() is None:
            depth = outage.spooled(camera_id)
            max_depth = max(max_depth, depth)
            if depth <= 1 and drained_after is None:
                drained_after = time.monotonic() - up_at
            time.sleep(0.1)
        code, stdout, stderr = camera.finish(timeout=60)
    finally:
        if camera.proc.poll() is None:
            camera.proc.kill()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    sent = int(re.search(r"published (\d+) segments", stderr).group(1))  # type: ignore[union-attr]
    assert sent == RECORD_SECONDS // 2
    assert "broker not acknowledging" in stderr and "broker back" in stderr
    assert outage.spooled(camera_id) == 0

    recording_id = stdout.strip()
    messages = delivered(outage.settings, camera_id)
    segments = [(h, v) for h, v in messages if isinstance(h, SegmentHeader)]
    sequences = [h.sequence for h, _ in segments]
    duplicates = len(sequences) - len(set(sequences))
    print(
        f"\nbroker outage {OUTAGE_SECONDS} s: sent {sent}, delivered {len(set(sequences))}, duplicates {duplicates}, "
        f"max spool depth {max_depth} (spool drained {drained_after or 0:.1f} s after the broker came back, "
        f"camera ran {time.monotonic() - started:.0f} s)"
    )
    assert all(h.recording_id == recording_id for h, _ in messages)
    assert sequences == list(range(sent)), "every segment exactly once, in order"
    assert all(hashlib.sha256(v).hexdigest() == h.sha256 for h, v in segments), "bytes intact"
    end = messages[-1][0]
    assert isinstance(end, RecordingEnd) and end.segment_count == sent
    assert len(messages) == sent + 1
    assert max_depth >= OUTAGE_SECONDS // 2 - 2  # the outage's segments really waited in the spool


def test_leftovers_are_sent_first_when_the_camera_starts_again(outage: Outage) -> None:
    camera_id = "restart-cam"
    enroll_key(outage, camera_id)
    outage.proxy.down()
    try:
        first = Camera.start(
            ["--source", "testsrc", "--seconds", "6", "--camera-id", camera_id, "--quiet"],
            outage.env(BWV_SPOOL_DRAIN_TIMEOUT="1"),
        )
        code, stdout, stderr = first.finish(timeout=60)
    finally:
        outage.proxy.up()
    assert code == 3, stderr  # DeliveryPending: safe on disk, not yet acknowledged
    assert "safe in the spool" in stderr and "Traceback" not in stderr
    assert outage.spooled(camera_id) == 4  # 3 segments and the end marker
    first_recording = stdout.strip()

    second = Camera.start(["--source", "testsrc", "--seconds", "4", "--camera-id", camera_id], outage.env())
    code, stdout, stderr = second.finish(timeout=60)
    assert code == 0, stderr
    assert "left from a previous run" in stderr
    order = [
        (h.recording_id, getattr(h, "sequence", "end")) for h, _ in delivered(outage.settings, camera_id)
    ]
    second_recording = stdout.strip()
    assert order == [(first_recording, 0), (first_recording, 1), (first_recording, 2), (first_recording, "end"),
                     (second_recording, 0), (second_recording, 1), (second_recording, "end")]
    assert outage.spooled(camera_id) == 0


def test_a_full_spool_stops_the_camera_with_one_clear_line(tmp_path: Path) -> None:
    camera_id = "full-cam"
    KeyRing(tmp_path / "keys").ensure(camera_id)
    env = {
        **os.environ,
        "BWV_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens: every segment stays spooled
        "BWV_SPOOL_DIR": str(tmp_path / "spool"),
        "BWV_CAMERA_KEYS_DIR": str(tmp_path / "keys"),
        "BWV_SPOOL_MAX_BYTES": str(1024 * 1024),
        "BWV_MAX_SEGMENT_BYTES": str(512 * 1024),
        "BWV_SEGMENT_SECONDS": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bwv", "camera", "--source", "testsrc", "--seconds", "30", "--camera-id", camera_id,
         "--bitrate", "1200000", "--quiet"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not accepted" in errors[0] and "is full" in errors[0], result.stderr
    # Nothing dropped: every accepted segment is in the spool, and the recording is closed on them.
    with Spool.open(tmp_path / "spool", camera_id, 10**9) as spool:
        records = [decode_headers(spool.read(e).headers) for e in spool.entries()]
    segments = [r for r in records if isinstance(r, SegmentHeader)]
    assert segments and [s.sequence for s in segments] == list(range(len(segments)))
    assert isinstance(records[-1], RecordingEnd) and records[-1].segment_count == len(segments)
    refused = int(re.search(r"segment (\d+) of recording", errors[0]).group(1))  # type: ignore[union-attr]
    assert refused == len(segments)


def test_a_second_process_for_the_same_camera_is_refused(tmp_path: Path) -> None:
    with Spool.open(tmp_path / "spool", "busy-cam", 10**9):
        result = subprocess.run(
            [sys.executable, "-m", "bwv", "camera", "--source", "testsrc", "--seconds", "2", "--camera-id", "busy-cam"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "BWV_SPOOL_DIR": str(tmp_path / "spool"), "BWV_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"},
        )
    assert result.returncode == 2
    assert "in use by another process" in result.stderr and "Traceback" not in result.stderr
