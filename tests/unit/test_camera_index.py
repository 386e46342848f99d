"""The camera index: summaries, status and silent-camera alerts from events in any order."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from schemas.layout import segment_key, thumbnail_key
from schemas.records import (
    AlertState,
    CameraState,
    QuarantinedSegment,
    RecordingEnded,
    RecordingStateName,
    StoredSegment,
    Thumbnail,
)
from streams.index import CameraIndex, IndexUpdate, Periods, on_ended, on_quarantined, on_stored, on_thumbnail, on_tick

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
P = Periods(silent_after=timedelta(seconds=10), idle_after=timedelta(seconds=60), categories={"unmarked": 31, "evidential": None})


def stored(seq: int, recording: str = "rec-1", camera: str = "cam-1", delay: float = 0.5) -> StoredSegment:
    start = T0 + timedelta(seconds=2 * seq)
    return StoredSegment(
        camera_id=camera, officer_id="pc-1", recording_id=recording, sequence=seq, capture_start=start,
        capture_end=start + timedelta(seconds=2), codec="h264", width=640, height=360, fps=25, byte_size=1000 + seq,
        sha256=hashlib.sha256(bytes([seq])).hexdigest(), chain=hashlib.sha256(b"c%d" % seq).hexdigest(),
        bucket="b", key=segment_key(recording, seq), stored_at=start + timedelta(seconds=2 + delay),
    )


def ended(recording: str = "rec-1", sent: int = 3) -> RecordingEnded:
    return RecordingEnded(camera_id="cam-1", recording_id=recording, segments_sent=sent, segments_stored=sent, ended_at=T0 + timedelta(seconds=6))


def thumb(seq: int, recording: str = "rec-1") -> Thumbnail:
    return Thumbnail(camera_id="cam-1", recording_id=recording, sequence=seq, bucket="b", key=thumbnail_key(recording, seq),
                     width=320, height=180, byte_size=5000, capture_start=T0)


def run(*steps: object) -> tuple[CameraIndex, list[IndexUpdate]]:
    index, updates = CameraIndex(), []
    for step in steps:
        update = step(index)  # type: ignore[operator]
        updates.append(update)
        index = update.index
    return index, updates


def test_segments_build_the_summary_and_the_status() -> None:
    index, _ = run(*(lambda i, s=s: on_stored(i, stored(s), 2, P, T0) for s in range(3)))
    summary = index.recordings["rec-1"]
    assert (summary.segment_count, summary.bytes, summary.duration_seconds) == (3, 3003, 6.0)
    assert summary.start == T0 and summary.end == T0 + timedelta(seconds=6)
    assert summary.state is RecordingStateName.open and summary.chain_head == stored(2).chain
    assert summary.expires_at == T0 + timedelta(seconds=6, days=31)
    assert index.status and index.status.state is CameraState.recording and index.status.current_recording == "rec-1"
    assert index.status.ingest_delay_seconds == 0.5 and index.partition == 2


def test_end_marker_before_the_last_segment_still_counts_it_and_stays_closed() -> None:
    index, _ = run(
        lambda i: on_stored(i, stored(0), 0, P, T0),
        lambda i: on_stored(i, stored(1), 0, P, T0),
        lambda i: on_ended(i, ended(sent=3), 0, P, T0),
        lambda i: on_stored(i, stored(2), 0, P, T0),
    )
    summary = index.recordings["rec-1"]
    assert summary.state is RecordingStateName.closed and summary.closed_reason == "end_marker"
    assert summary.segment_count == 3 and summary.segments_sent == 3 and summary.missing_sequences == 0
    assert index.status and index.status.state is CameraState.idle and index.status.current_recording is None


def test_end_marker_read_before_every_segment_leaves_no_placeholder() -> None:
    index, _ = run(lambda i: on_ended(i, ended(sent=2), 0, P, T0 + timedelta(hours=1)), lambda i: on_stored(i, stored(0), 0, P, T0))
    summary = index.recordings["rec-1"]
    assert summary.officer_id == "pc-1" and summary.start == T0 and summary.end == T0 + timedelta(seconds=2)
    assert summary.state is RecordingStateName.closed and summary.segments_sent == 2


def test_a_gap_is_counted_as_missing() -> None:
    index, _ = run(lambda i: on_stored(i, stored(0), 0, P, T0), lambda i: on_stored(i, stored(3), 0, P, T0))
    assert index.recordings["rec-1"].missing_sequences == 2


def test_silent_camera_alert_is_raised_once_then_cleared_and_idle_closes_the_recording() -> None:
    index, _ = run(lambda i: on_stored(i, stored(0), 0, P, T0))
    last = stored(0).stored_at
    quiet = on_tick(index, P, last + timedelta(seconds=11))
    assert [a.kind for a in quiet.alerts] == ["camera_silent"] and quiet.alerts[0].state is AlertState.raised
    assert quiet.status and quiet.status.state is CameraState.silent and not quiet.status.live
    again = on_tick(quiet.index, P, last + timedelta(seconds=12))
    assert again.alerts == []  # raised once per condition
    back = on_stored(again.index, stored(1), 0, P, T0)
    assert [(a.kind, a.state) for a in back.alerts] == [("camera_silent", AlertState.cleared)]
    assert back.alerts[0].dedup_key == quiet.alerts[0].dedup_key
    gone = on_tick(on_tick(back.index, P, last + timedelta(seconds=20)).index, P, last + timedelta(seconds=80))
    assert gone.index.recordings["rec-1"].closed_reason == "idle_timeout"
    assert gone.status and gone.status.current_recording is None
    reopened = on_stored(gone.index, stored(2), 0, P, T0)
    assert reopened.index.recordings["rec-1"].state is RecordingStateName.open


def test_a_new_recording_closes_the_one_left_open() -> None:
    index, updates = run(
        lambda i: on_stored(i, stored(0, "rec-1"), 0, P, T0),
        lambda i: on_stored(i, stored(5, "rec-2"), 0, P, T0),
    )
    assert index.recordings["rec-1"].closed_reason == "next_recording"
    assert index.status and index.status.current_recording == "rec-2"


def test_a_thumbnail_read_before_its_segment_is_kept_for_the_summary_and_the_status() -> None:
    # Thumbnails and stored segments come on different topics; one per interval must not be lost.
    index, updates = run(
        lambda i: on_stored(i, stored(0, "rec-0"), 0, P, T0),
        lambda i: on_thumbnail(i, thumb(0, "rec-1"), 0, P, T0),  # the next recording's, early
        lambda i: on_stored(i, stored(0, "rec-1"), 0, P, T0),
    )
    assert updates[1].summaries == []  # the placeholder is saved, not published
    assert [s.latest_thumbnail for s in updates[1].placeholders] == [thumbnail_key("rec-1", 0)]
    summary = index.recordings["rec-1"]
    assert summary.latest_thumbnail == thumbnail_key("rec-1", 0)
    assert (summary.officer_id, summary.segment_count, summary.start) == ("pc-1", 1, T0)
    assert index.status and index.status.current_recording == "rec-1"
    assert index.status.latest_thumbnail == thumbnail_key("rec-1", 0)


def test_end_marker_and_thumbnail_read_before_the_segments_still_give_the_camera_its_picture() -> None:
    index, _ = run(
        lambda i: on_ended(i, ended(sent=1), 0, P, T0),
        lambda i: on_thumbnail(i, thumb(0), 0, P, T0),
        lambda i: on_stored(i, stored(0), 0, P, T0),
    )
    assert index.recordings["rec-1"].latest_thumbnail == thumbnail_key("rec-1", 0)
    assert index.status and index.status.current_recording is None
    assert index.status.latest_thumbnail == thumbnail_key("rec-1", 0)


def test_quarantine_marks_the_recording_and_thumbnails_follow_the_newest_segment() -> None:
    q = QuarantinedSegment(camera_id="cam-1", officer_id="pc-1", recording_id="rec-1", sequence=1, reason="hash_mismatch",
                           detail="x", capture_start=T0, capture_end=T0, sha256="0" * 64, bucket="q", key="k")
    index, _ = run(
        lambda i: on_stored(i, stored(0), 0, P, T0),
        lambda i: on_quarantined(i, q, 0, P, T0),
        lambda i: on_thumbnail(i, thumb(2), 0, P, T0),
        lambda i: on_thumbnail(i, thumb(0), 0, P, T0),  # late: does not replace the newer one
    )
    summary = index.recordings["rec-1"]
    assert summary.state is RecordingStateName.quarantined and summary.quarantined_segments == 1
    assert summary.latest_thumbnail == thumbnail_key("rec-1", 2)
    assert index.status and index.status.latest_thumbnail == thumbnail_key("rec-1", 2)
