"""Which segments are thumbnailed as they are stored, and the cheap keyframe check for the rest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from producers.segmenter import segment_source
from producers.testsrc import TestsrcOptions
from streams.thumbnail_schedule import thumbnail_due
from streams.thumbnails import ThumbnailError, check_keyframe

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)  # on a 10 s boundary


def due_sequences(count: int, seconds: float, interval: float, start: datetime = T0) -> list[int]:
    out = []
    for seq in range(count):
        begin = start + timedelta(seconds=seq * seconds)
        if thumbnail_due(seq, begin, begin + timedelta(seconds=seconds), interval):
            out.append(seq)
    return out


def test_one_two_second_segment_in_five_and_always_the_first() -> None:
    assert due_sequences(20, 2.0, 10.0) == [0, 5, 10, 15]
    # Starting off the boundary: the first segment, then whichever crosses each boundary.
    assert due_sequences(12, 2.0, 10.0, T0 + timedelta(seconds=3)) == [0, 3, 8]


def test_zero_interval_or_long_segments_thumbnail_every_segment() -> None:
    assert due_sequences(6, 2.0, 0) == list(range(6))
    assert due_sequences(6, 12.0, 10.0) == list(range(6))


def test_the_rule_depends_on_the_segment_alone() -> None:
    # Redelivered or seen by another worker: the same answer, whatever came before.
    begin = T0 + timedelta(seconds=9)
    assert thumbnail_due(7, begin, begin + timedelta(seconds=2), 10.0)
    assert not thumbnail_due(7, begin + timedelta(seconds=2), begin + timedelta(seconds=4), 10.0)


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
