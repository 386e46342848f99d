"""The camera spool: order, crash safety, the bound, the lock — and the publisher on top of it
with no broker at all (a camera must record into its spool without network)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bwv.settings import Settings
from producers.errors import DeliveryPending, SpoolBusy, SpoolError, SpoolFull
from producers.keys import KeyRing
from producers.publisher import SegmentPublisher
from producers.spool import DAMAGED_DIR, MARKER_HEADROOM, Spool, SpoolCorrupt, decode_message
from schemas.headers import decode_headers
from schemas.records import RecordingEnd, SegmentHeader
from schemas.signing import SIGNATURE_HEADER

CAMERA = "cam-spool"


def body(i: int, size: int = 10_000) -> bytes:
    return bytes([i % 251]) * size


def headers(i: int) -> list[tuple[str, bytes]]:
    return [("bwv-segment", f'{{"sequence": {i}}}'.encode()), ("bwv-signature", bytes(64))]


def fill(spool: Spool, n: int, size: int = 10_000) -> None:
    for i in range(n):
        spool.append(CAMERA.encode(), headers(i), body(i, size))


def sequences(spool: Spool) -> list[int]:
    return [int(spool.read(e).headers[0][1].split(b":")[1].strip(b" }")) for e in spool.entries()]


def gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_messages_round_trip_raw_and_in_order(tmp_path: Path) -> None:
    with Spool.open(tmp_path, CAMERA, 10**9) as spool:
        fill(spool, 5)
        assert sequences(spool) == [0, 1, 2, 3, 4]
        first = spool.entries()[0]
        message = spool.read(first)
        assert message.key == CAMERA.encode() and message.headers == headers(0) and message.value == body(0)
        # The video is stored raw (no base64 or JSON around it): its bytes are in the file as they are.
        assert body(0) in first.path.read_bytes()
        assert first.path.stat().st_size - len(body(0)) < 200


def test_only_the_oldest_leaves_and_order_survives_a_restart(tmp_path: Path) -> None:
    with Spool.open(tmp_path, CAMERA, 10**9) as spool:
        fill(spool, 4)
        entries = spool.entries()
        with pytest.raises(ValueError, match="only the oldest"):
            spool.remove(entries[1])
        spool.remove(entries[0])
        assert not entries[0].path.exists()
    with Spool.open(tmp_path, CAMERA, 10**9) as again:
        assert sequences(again) == [1, 2, 3]
        again.append(CAMERA.encode(), headers(9), body(9))
        assert sequences(again) == [1, 2, 3, 9]  # new messages queue behind the leftovers
        numbers = [e.number for e in again.entries()]
        assert numbers == sorted(numbers) and len(set(numbers)) == 4


def test_a_torn_last_file_and_a_partial_write_are_never_replayed(tmp_path: Path) -> None:
    with Spool.open(tmp_path, CAMERA, 10**9) as spool:
        fill(spool, 3)
        last = spool.entries()[-1]
    # A crash mid-write on a file system that did not keep rename-after-fsync order:
    # the last message file is cut short.
    data = last.path.read_bytes()
    last.path.write_bytes(data[: len(data) // 2])
    # And a write that never reached its rename.
    partial = tmp_path / CAMERA / f"{last.number + 1:020d}.tmp"
    partial.write_bytes(data[:100])

    with Spool.open(tmp_path, CAMERA, 10**9) as spool:
        assert sequences(spool) == [0, 1]
        assert not partial.exists()
        assert (tmp_path / CAMERA / DAMAGED_DIR / last.path.name).exists()  # kept for inspection
        # New messages never reuse a number that was on disk.
        assert spool.append(CAMERA.encode(), headers(7), body(7)).number > last.number + 1


def test_an_altered_file_fails_its_crc_when_read(tmp_path: Path) -> None:
    with Spool.open(tmp_path, CAMERA, 10**9) as spool:
        fill(spool, 2)
        entry = spool.entries()[0]
        data = bytearray(entry.path.read_bytes())
        data[len(data) // 2] ^= 0x01  # same length: only the CRC can tell
        entry.path.write_bytes(bytes(data))
        with pytest.raises(SpoolCorrupt, match="CRC"):
            spool.read(entry)
        spool.set_aside(entry, "test")
        assert sequences(spool) == [1]
    for torn in (b"", b"BWVSPL01", bytes(data[:-1]), b"XXXXXXXX" + bytes(data[8:])):
        with pytest.raises(SpoolCorrupt):
            decode_message(torn)


def test_a_killed_writer_leaves_only_whole_messages(tmp_path: Path) -> None:
    """A real crash: SIGKILL a process appending 256 kB messages as fast as it can."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from producers.spool import Spool
        spool = Spool.open(Path({str(tmp_path)!r}), {CAMERA!r}, 10**10)
        i = 0
        while True:
            spool.append(b"k", [("n", str(i).encode())], bytes([i % 251]) * 262_144)
            i += 1
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 30
    while len(list((tmp_path / CAMERA).glob("*.msg"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Spool.open(tmp_path, CAMERA, 10**10) as spool:
        entries = spool.entries()
        assert len(entries) >= 5
        for expected, entry in enumerate(entries):
            message = spool.read(entry)  # every file that has a name is whole (CRC checked)
            assert message.headers == [("n", str(expected).encode())]
            assert message.value == bytes([expected % 251]) * 262_144
        assert not list((tmp_path / CAMERA).glob("*.tmp"))


def test_full_spool_refuses_loudly_and_keeps_everything(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    refused_before = gauge("bwv_publisher_spool_full_total")
    with Spool.open(tmp_path, CAMERA, 55_000) as spool:
        fill(spool, 5)  # 5 x ~10 kB fits
        size_before = spool.bytes
        with pytest.raises(SpoolFull, match="is full"):
            spool.append(CAMERA.encode(), headers(5), body(5))
        assert gauge("bwv_publisher_spool_full_total") == refused_before + 1
        assert "SPOOL FULL" in caplog.text
        # Nothing dropped, nothing half-written.
        assert sequences(spool) == [0, 1, 2, 3, 4] and spool.bytes == size_before
        assert not list((tmp_path / CAMERA).glob("*.tmp"))
        # An end marker (empty value) still fits, so the recording can be closed.
        spool.append(CAMERA.encode(), [("bwv-recording-end", b"{}")], b"")
        assert spool.depth == 6 and spool.bytes <= spool.max_bytes + MARKER_HEADROOM
        # Once the broker acknowledged the oldest, there is room again.
        spool.remove(spool.entries()[0])
        spool.remove(spool.entries()[0])
        spool.append(CAMERA.encode(), headers(6), body(6))


def test_gauges_follow_the_spool(tmp_path: Path) -> None:
    depth, size = gauge("bwv_publisher_spool_depth"), gauge("bwv_publisher_spool_bytes")
    spool = Spool.open(tmp_path, CAMERA, 10**9)
    fill(spool, 3)
    assert gauge("bwv_publisher_spool_depth") == depth + 3
    assert gauge("bwv_publisher_spool_bytes") == size + spool.bytes
    spool.remove(spool.entries()[0])
    assert gauge("bwv_publisher_spool_depth") == depth + 2
    spool.close()
    assert gauge("bwv_publisher_spool_depth") == depth and gauge("bwv_publisher_spool_bytes") == size
    with Spool.open(tmp_path, CAMERA, 10**9):  # leftovers count again when reopened
        assert gauge("bwv_publisher_spool_depth") == depth + 2


def test_one_process_per_camera_spool(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, CAMERA, 10**9)
    try:
        other = subprocess.run(
            [sys.executable, "-c", f"from producers.spool import Spool; Spool.open({str(tmp_path)!r}, {CAMERA!r}, 10**9)"],
            capture_output=True, text=True, cwd=Path(__file__).parents[2],
        )
        assert other.returncode != 0
        assert "SpoolBusy" in other.stderr and f"pid {os.getpid()}" in other.stderr
        with pytest.raises(SpoolBusy):  # a second open in the same process is refused too
            Spool.open(tmp_path, CAMERA, 10**9)
        Spool.open(tmp_path, "another-camera", 10**9).close()  # other cameras are independent
    finally:
        spool.close()
    Spool.open(tmp_path, CAMERA, 10**9).close()  # released on close


def test_camera_ids_that_are_not_directory_names_are_refused(tmp_path: Path) -> None:
    for bad in ("", ".", "..", "a/b"):
        with pytest.raises(ValueError):
            Spool.open(tmp_path, bad, 10**9)


def _header(sequence: int, data: bytes) -> SegmentHeader:
    now = datetime.now(timezone.utc)
    return SegmentHeader(
        camera_id=CAMERA, officer_id="pc-1", recording_id="rec-1", sequence=sequence,
        capture_start=now, capture_end=now, codec="h264", width=320, height=240, fps=25,
        byte_size=len(data), sha256=hashlib.sha256(data).hexdigest(),
    )


def test_publisher_spools_signed_messages_without_any_broker(tmp_path: Path) -> None:
    """No broker at all: publish still succeeds (into the spool); flush says what is pending."""
    settings = Settings(kafka_bootstrap="127.0.0.1:1", max_segment_bytes=65_536, spool_max_bytes=1024 * 1024)
    keys = KeyRing(tmp_path / "keys")
    keys.generate(CAMERA)
    status: list[str] = []
    spool = Spool.open(tmp_path / "spool", CAMERA, settings.spool_max_bytes)
    publisher = SegmentPublisher(settings, keys, spool=spool, on_status=status.append)
    try:
        for i in range(3):
            publisher.publish(_header(i, body(i)), body(i))
        publisher.publish_end(RecordingEnd(camera_id=CAMERA, recording_id="rec-1", segment_count=3,
                                           ended_at=datetime.now(timezone.utc)))
        assert publisher.spool_depth == 4
        with pytest.raises(DeliveryPending, match="4 message"):
            publisher.flush(timeout=0.5)
    finally:
        publisher.close()
    with Spool.open(tmp_path / "spool", CAMERA, settings.spool_max_bytes) as reopened:
        messages = [reopened.read(e) for e in reopened.entries()]
    assert [m.value for m in messages] == [body(0), body(1), body(2), b""]
    records = [decode_headers(m.headers) for m in messages]
    assert [getattr(r, "sequence", "end") for r in records] == [0, 1, 2, "end"]
    assert all(dict(m.headers).get(SIGNATURE_HEADER) for m in messages)


def test_publisher_refuses_a_spool_smaller_than_one_segment(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:1", max_segment_bytes=2 * 1024 * 1024, spool_max_bytes=1024 * 1024)
    with Spool.open(tmp_path, CAMERA, settings.spool_max_bytes) as spool:
        with pytest.raises(SpoolError, match="cannot hold even one"):
            SegmentPublisher(settings, KeyRing(tmp_path / "keys"), spool=spool)
