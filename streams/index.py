"""The index of one camera: its status and its recent recordings, updated from small events.

Pure functions (no I/O, the clock passed in) so every rule is unit-tested; the
index agent (``streams.app``) keeps one ``CameraIndex`` per camera in a Faust
table and publishes what changed. Events reach the agent from several topics, so
no rule assumes their order: a recording's end marker may be read before its last
stored segment, a thumbnail after its recording closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.layout import recording_prefix, sequence_of
from streams.retention import expiry
from schemas.records import (
    Alert,
    AlertState,
    CameraState,
    CameraStatus,
    QuarantinedSegment,
    RecordingEnded,
    RecordingStateName,
    RecordingSummary,
    Severity,
    StoredSegment,
    Thumbnail,
)

END_MARKER, IDLE_TIMEOUT, NEXT_RECORDING = "end_marker", "idle_timeout", "next_recording"


@dataclass(frozen=True)
class Periods:
    silent_after: timedelta  # no segment for this long while recording: camera_silent
    idle_after: timedelta  # no segment for this long: the recording is closed
    categories: dict[str, float | None]  # retention days per category ("unmarked" included)


class CameraIndex(BaseModel):
    """Table value: everything the index remembers of one camera.

    ``recordings`` is a working set: the agent loads the summaries an event
    concerns from the ``recording-index`` table and saves them back after.
    """

    model_config = ConfigDict(extra="ignore")
    partition: int = -1
    status: CameraStatus | None = None
    recordings: dict[str, RecordingSummary] = {}
    silent_alert: str | None = None  # dedup key of the raised camera_silent alert
    seen: dict[str, int] = {}  # topic -> offset of the last event applied (replays are skipped)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


@dataclass
class IndexUpdate:
    index: CameraIndex
    summaries: list[RecordingSummary] = field(default_factory=list)
    status: CameraStatus | None = None
    placeholders: list[RecordingSummary] = field(default_factory=list)  # saved, not published (no segment yet)
    alerts: list[Alert] = field(default_factory=list)


def _state(summary: RecordingSummary, closed_reason: str | None) -> RecordingStateName:
    if summary.quarantined_segments:
        return RecordingStateName.quarantined
    return RecordingStateName.open if closed_reason is None else RecordingStateName.closed


def _with(summary: RecordingSummary, now: datetime, categories: dict[str, float | None] | None = None, **changes: object) -> RecordingSummary:
    merged = summary.model_copy(update={**changes, "updated_at": now})
    if summary.state is RecordingStateName.deleted:
        return merged  # a tombstone stays one
    update: dict[str, object] = {"state": _state(merged, merged.closed_reason)}
    if categories is not None:
        update["expires_at"] = expiry(merged, categories)
    return merged.model_copy(update=update)


def _new_summary(camera_id: str, officer_id: str, recording_id: str, start: datetime, end: datetime, p: Periods, now: datetime) -> RecordingSummary:
    summary = RecordingSummary(
        recording_id=recording_id, camera_id=camera_id, officer_id=officer_id, state=RecordingStateName.open,
        start=start, end=end, segment_count=0, duration_seconds=0.0, bytes=0, updated_at=now,
    )
    return summary.model_copy(update={"expires_at": expiry(summary, p.categories)})


def _silent_cleared(index: CameraIndex, update: IndexUpdate, now: datetime, why: str) -> None:
    if index.silent_alert is None:
        return
    status = index.status
    update.alerts.append(
        Alert(
            kind="camera_silent", severity=Severity.warning, state=AlertState.cleared, dedup_key=index.silent_alert,
            message=f"camera {status.camera_id if status else ''} {why}", camera_id=status.camera_id if status else None,
            recording_id=index.silent_alert.rsplit(":", 1)[-1], at=now,
        )
    )
    index.silent_alert = None


def on_stored(index: CameraIndex, stored: StoredSegment, partition: int, p: Periods, now: datetime) -> IndexUpdate:
    index = index.model_copy(deep=True)
    index.partition = partition
    update = IndexUpdate(index)
    summary = index.recordings.get(stored.recording_id) or _new_summary(
        stored.camera_id, stored.officer_id, stored.recording_id, stored.capture_start, stored.capture_end, p, now
    )
    # Another recording still open on this camera: the camera moved on without an end marker.
    for other in list(index.recordings.values()):
        if other.recording_id != stored.recording_id and other.closed_reason is None and other.start < stored.capture_start:
            index.recordings[other.recording_id] = _with(other, now, closed_reason=NEXT_RECORDING)
            update.summaries.append(index.recordings[other.recording_id])
    newest = stored.sequence > summary.last_sequence
    if summary.segment_count == 0:  # made from an end marker or a quarantine: placeholders only
        summary = summary.model_copy(
            update={"officer_id": stored.officer_id, "start": stored.capture_start, "end": stored.capture_end}
        )
    end = max(summary.end, stored.capture_end)
    count = summary.segment_count + 1
    last = max(summary.last_sequence, stored.sequence)
    reopened = None if summary.closed_reason == IDLE_TIMEOUT else summary.closed_reason
    summary = _with(
        summary,
        now,
        p.categories,
        start=min(summary.start, stored.capture_start),
        end=end,
        segment_count=count,
        duration_seconds=round(summary.duration_seconds + (stored.capture_end - stored.capture_start).total_seconds(), 6),
        bytes=summary.bytes + stored.byte_size,
        last_sequence=last,
        missing_sequences=max(0, last + 1 - count),
        chain_head=stored.chain if newest else summary.chain_head,
        closed_reason=reopened,
    )
    index.recordings[stored.recording_id] = summary
    update.summaries.append(summary)
    previous = index.status
    # A straggler of a closed recording does not make it current again.
    current = stored.recording_id if summary.closed_reason is None else (previous.current_recording if previous else None)
    last_end = stored.capture_end
    if previous is not None and previous.last_capture_end is not None:
        last_end = max(last_end, previous.last_capture_end)
    # The camera's picture is its current recording's, or any it has: a thumbnail read before
    # this segment (or before an end marker read early) counts; there is one per interval only.
    picture = previous.latest_thumbnail if previous else None
    if summary.latest_thumbnail and (
        picture is None or (current == stored.recording_id and not picture.startswith(recording_prefix(stored.recording_id)))
    ):
        picture = summary.latest_thumbnail
    index.status = CameraStatus(
        camera_id=stored.camera_id,
        officer_id=stored.officer_id,
        state=CameraState.recording if current else CameraState.idle,
        live=True,
        current_recording=current,
        last_capture_end=last_end,
        last_stored_at=stored.stored_at,
        ingest_delay_seconds=round((stored.stored_at - stored.capture_end).total_seconds(), 3),
        latest_thumbnail=picture,
        location=stored.location or (previous.location if previous else None),
        updated_at=now,
    )
    update.status = index.status
    _silent_cleared(index, update, now, "sends footage again")
    return update


def on_ended(index: CameraIndex, ended: RecordingEnded, partition: int, p: Periods, now: datetime) -> IndexUpdate:
    index = index.model_copy(deep=True)
    index.partition = partition
    update = IndexUpdate(index)
    officer = index.status.officer_id if index.status else "unknown"
    summary = index.recordings.get(ended.recording_id) or _new_summary(
        ended.camera_id, officer, ended.recording_id, ended.ended_at, ended.ended_at, p, now
    )
    summary = _with(summary, now, closed_reason=END_MARKER, segments_sent=ended.segments_sent)
    index.recordings[ended.recording_id] = summary
    update.summaries.append(summary)
    if index.status and index.status.current_recording == ended.recording_id:
        index.status = index.status.model_copy(
            update={"state": CameraState.idle, "current_recording": None, "updated_at": now}
        )
        update.status = index.status
        _silent_cleared(index, update, now, "ended its recording")
    return update


def on_quarantined(index: CameraIndex, q: QuarantinedSegment, partition: int, p: Periods, now: datetime) -> IndexUpdate:
    index = index.model_copy(deep=True)
    index.partition = partition
    summary = index.recordings.get(q.recording_id) or _new_summary(
        q.camera_id, q.officer_id, q.recording_id, q.capture_start, q.capture_end, p, now
    )
    summary = _with(summary, now, quarantined_segments=summary.quarantined_segments + 1)
    index.recordings[q.recording_id] = summary
    return IndexUpdate(index, summaries=[summary])


def on_thumbnail(index: CameraIndex, thumb: Thumbnail, partition: int, p: Periods, now: datetime) -> IndexUpdate:
    index = index.model_copy(deep=True)
    index.partition = partition
    update = IndexUpdate(index)
    summary = index.recordings.get(thumb.recording_id)
    if summary is None:
        # Read before its segment's stored event (another topic): kept on a placeholder the
        # segment fills in, and not published until then. With one thumbnail per interval,
        # dropping it would leave the recording without a picture until the next one.
        officer = index.status.officer_id if index.status else "unknown"
        placeholder = _new_summary(thumb.camera_id, officer, thumb.recording_id, thumb.capture_start, thumb.capture_start, p, now)
        index.recordings[thumb.recording_id] = placeholder = placeholder.model_copy(update={"latest_thumbnail": thumb.key})
        update.placeholders.append(placeholder)
    elif summary.latest_thumbnail is None or sequence_of(summary.latest_thumbnail) <= thumb.sequence:
        index.recordings[thumb.recording_id] = summary = _with(summary, now, latest_thumbnail=thumb.key)
        update.summaries.append(summary)
    status = index.status
    newer = status is not None and (
        status.latest_thumbnail is None
        or thumb.key.split("/")[1] != status.latest_thumbnail.split("/")[1]  # another recording's: newer by arrival
        or sequence_of(status.latest_thumbnail) <= thumb.sequence
    )
    if status is not None and newer and status.current_recording in (None, thumb.recording_id):
        index.status = status.model_copy(update={"latest_thumbnail": thumb.key, "updated_at": now})
        update.status = index.status
    return update


def on_tick(index: CameraIndex, p: Periods, now: datetime) -> IndexUpdate:
    """Time passing: a recording camera gone silent is alerted once, then its recording closed."""
    index = index.model_copy(deep=True)
    update = IndexUpdate(index)
    status = index.status
    if status is None or status.last_stored_at is None:
        return update
    quiet = now - status.last_stored_at
    if status.live and quiet > p.silent_after:
        silent = status.current_recording is not None
        index.status = status = status.model_copy(
            update={"live": False, "state": CameraState.silent if silent else status.state, "updated_at": now}
        )
        update.status = status
        if silent and index.silent_alert is None:
            index.silent_alert = f"camera_silent:{status.camera_id}:{status.current_recording}"
            update.alerts.append(
                Alert(
                    kind="camera_silent", severity=Severity.warning, dedup_key=index.silent_alert,
                    message=f"camera {status.camera_id} sent nothing for {quiet.total_seconds():.0f} s while recording "
                    f"{status.current_recording}",
                    camera_id=status.camera_id, recording_id=status.current_recording, at=now,
                )
            )
    if status.current_recording is not None and quiet > p.idle_after:
        rid = status.current_recording
        summary = index.recordings.get(rid)
        if summary is not None and summary.closed_reason is None:
            index.recordings[rid] = summary = _with(summary, now, closed_reason=IDLE_TIMEOUT)
            update.summaries.append(summary)
        index.status = status.model_copy(update={"state": CameraState.idle, "current_recording": None, "updated_at": now})
        update.status = index.status
    return update
