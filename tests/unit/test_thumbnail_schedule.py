"""Which segments are thumbnailed as they are stored, and the cheap keyframe check for the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from producers.segmenter import segment_source
from producers.testsrc import TestsrcOptions
from streams.thumbnail_schedule import camera_phase, thumbnail_due
from streams.thumbnails import ThumbnailError, check_keyframe

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)  # on a 10 s boundary


@dataclass(frozen=True)
class Seg:
    camera_id: str
    sequence: int
    capture_start: datetime
    capture_end: datetime


def due_sequences(count: int, seconds: float, interval: float, camera: str = "cam-1", start: datetime = T0) -> list[int]:
    segments = [
        Seg(camera, seq, start + timedelta(seconds=seq * seconds), start + timedelta(seconds=(seq + 1) * seconds))
        for seq in range(count)
    ]
    return [s.sequence for s in segments if thumbnail_due(s, interval)]


def test_one_two_second_segment_in_five_and_always_the_first() -> None:
    for camera in ("cam-1", "cam-2", "bodycam-0042"):
        due = due_sequences(50, 2.0, 10.0, camera)
        assert due[0] == 0 and len(due) in (10, 11)  # the first, then one per 10 s (100 s of footage)
        assert all(b - a == 5 for a, b in zip(due[1:], due[2:]))


def test_zero_interval_or_long_segments_thumbnail_every_segment() -> None:
    assert due_sequences(6, 2.0, 0) == list(range(6))
    assert due_sequences(6, 12.0, 10.0) == list(range(6))


def test_a_fleet_is_spread_over_the_interval_not_due_at_once() -> None:
    # Every camera's boundary in the same second would make every camera's cut due together.
    phases = sorted(camera_phase(f"cam-{i}", 10.0) for i in range(200))
    assert 0 <= phases[0] and phases[-1] < 10
    per_second = [sum(1 for p in phases if s <= p < s + 1) for s in range(10)]
    assert max(per_second) < 40  # 20 a second on average


def test_the_rule_depends_on_the_segment_alone() -> None:
    # Redelivered or seen by another worker: the same answer, whatever came before.
    seg = Seg("cam-9", 7, T0 + timedelta(seconds=14), T0 + timedelta(seconds=16))
    assert thumbnail_due(seg, 10.0) == thumbnail_due(Seg(*vars(seg).values()), 10.0)
    assert [thumbnail_due(Seg("cam-9", 7, seg.capture_start + timedelta(seconds=2 * k), seg.capture_end + timedelta(seconds=2 * k)), 10.0)
            for k in range(5)].count(True) == 1


@pytest.fixture(scope="module")
def segment() -> bytes:
    options = TestsrcOptions(width=320, height=180, fps=15, bitrate=200_000)
    return next(iter(segment_source("testsrc", 2.0, max_seconds=2, testsrc_options=options))).data


def test_a_real_segment_has_a_keyframe(segment: bytes) -> None:
    check_keyframe(segment)


@pytest.mark.parametrize(
    "body, why",
    [
        (b"\x00" * 4096, "not a readable video segment"),
        (b"hello, this is text, not video\n" * 200, "not a (readable )?video segment"),
    ],
)
def test_bytes_without_a_picture_are_named(body: bytes, why: str) -> None:
    with pytest.raises(ThumbnailError, match=why):
        check_keyframe(body)


def test_a_segment_cut_short_before_its_keyframe_has_none(segment: bytes) -> None:
    with pytest.raises(ThumbnailError):
        check_keyframe(segment[:564])  # a few TS packets: tables, no picture
