"""Camera location: an optional header field added under the compatibility rule; simulated foot patrols."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from pydantic import ConfigDict

from producers.route import Walk, parse_start
from schemas.compat import compatibility_problems
from schemas.headers import decode_headers, encode_headers
from schemas.records import Location, Record, SegmentHeader

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


class SegmentHeaderBeforeLocation(Record):
    """A reader built before the location field existed (the v1 fields, nothing more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    camera_id: str
    officer_id: str
    recording_id: str
    sequence: int
    capture_start: datetime
    capture_end: datetime
    codec: str
    width: int
    height: int
    fps: float
    byte_size: int
    sha256: str
    container: str = "mpegts"


def header(location: Location | None) -> SegmentHeader:
    return SegmentHeader(
        camera_id="cam-1", officer_id="pc-1", recording_id="rec-1", sequence=0, capture_start=T0,
        capture_end=T0 + timedelta(seconds=2), codec="h264", width=640, height=360, fps=25, byte_size=100,
        sha256="a" * 64, location=location,
    )


def test_old_readers_read_new_headers_and_new_readers_read_old_ones() -> None:
    where = Location(lat=51.5, lon=-0.12, accuracy_m=5, at=T0)
    new = header(where).to_json()
    old_view = SegmentHeaderBeforeLocation.model_validate_json(new)
    assert old_view.sequence == 0 and not hasattr(old_view, "location")
    old_json = header(None).to_json()
    assert b"location" not in old_json
    assert SegmentHeader.model_validate_json(old_json).location is None
    assert decode_headers(encode_headers(header(where))).location == where  # type: ignore[union-attr]


def test_the_field_passes_the_compatibility_rule() -> None:
    before = SegmentHeader.model_json_schema()
    before["properties"].pop("location")
    assert compatibility_problems(before, SegmentHeader.model_json_schema()) == []


def test_a_walk_moves_at_walking_pace_and_is_the_same_every_run() -> None:
    walk, again = Walk(51.5072, -0.1276, seed=7), Walk(51.5072, -0.1276, seed=7)
    points = [walk.at(s, T0 + timedelta(seconds=s)) for s in range(0, 120, 2)]
    assert points == [again.at(s, T0 + timedelta(seconds=s)) for s in range(0, 120, 2)]
    for a, b in zip(points, points[1:]):
        metres = math.dist((a.lat * 111_000, a.lon * 69_000), (b.lat * 111_000, b.lon * 69_000))
        assert 1.0 < metres < 5.0  # 2 s at about 1.4 m/s
    assert parse_start("51.5,-0.1") == (51.5, -0.1)
