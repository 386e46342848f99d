"""The control room over HTTP, against the real stack: access, search, footage, audit, actions.

A real ``bwv control-room`` process with a supervisor and a viewer (added through
``bwv control-room add-user``), a real worker, a real camera recording the
sample file. The browser side is in ``test_controlroom_browser.py``.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest

from bwv.settings import Settings
from consumers.bundle import verify_bundle
from consumers.published import published_keys
from producers.publisher import SegmentPublisher
from schemas.topics import CUSTODY
from tests.helpers import enroll_cameras, records, wait_for
from tests.integration.controlroom_support import SUPERVISOR, VIEWER, Client, ControlRoom, logged_in, record_file, start_control_room
from tests.integration.test_pipeline import publish_ts

pytestmark = pytest.mark.integration

CAMERA, OFFICER = "cr-cam-1", "pc-cr-1"


@pytest.fixture(scope="module")
def recording(settings: Settings, supervisor: Client, sample_video: Path) -> dict[str, Any]:
    """The sample file recorded by a camera, closed and indexed: its summary as the control room gives it."""
    enroll_cameras(settings, CAMERA)
    recording_id = record_file(CAMERA, sample_video, "--officer", OFFICER)

    def indexed() -> dict[str, Any] | None:
        found = supervisor.get(f"/api/recordings?camera={CAMERA}").json()["recordings"]
        r = next((r for r in found if r["recording_id"] == recording_id), None)
        done = r and r["state"] == "closed" and r["segment_count"] == r["segments_sent"] and r["thumbnail_url"]
        return r if done else None

    return wait_for(indexed, 60, "the recording closed in the control room's index")


def custody(settings: Settings, kind: str, recording_id: str | None = None) -> list[dict[str, Any]]:
    return [
        e for e in records(settings, CUSTODY)
        if e["kind"] == kind and (recording_id is None or e.get("recording_id") == recording_id)
    ]


def test_without_login_only_the_login_page_is_served(room: ControlRoom, recording: dict[str, Any]) -> None:
    anyone = Client(room.url)
    rid = recording["recording_id"]
    page = anyone.get("/")
    assert page.status == 303 and page.headers["Location"].startswith("/login?next=")
    assert anyone.get(f"/recordings/{rid}").status == 303
    for path in (
        "/api/state", "/api/recordings", f"/api/recordings/{rid}", f"/api/recordings/{rid}/integrity",
        "/events", recording["thumbnail_url"], f"/media/recordings/{rid}/video.mp4", "/api/me",
    ):
        response = anyone.get(path)
        assert response.status == 401, path
        assert response.json() == {"error": "not logged in"}, path  # nothing about the footage
    assert anyone.post_json(f"/api/recordings/{rid}/mark", {"reason": "x"}).status == 401
    login = anyone.get("/login")
    assert login.status == 200 and b'name="password"' in login.body
    assert anyone.get("/static/app.css").status == 200
    assert Client(room.url).login(SUPERVISOR[0], "wrong password").status == 401


def test_search_by_camera_officer_and_time(supervisor: Client, recording: dict[str, Any]) -> None:
    rid = recording["recording_id"]
    start = datetime.fromisoformat(recording["start"])
    by_camera = supervisor.get(f"/api/recordings?camera={CAMERA}").json()["recordings"]
    assert [r["recording_id"] for r in by_camera] == [rid]
    assert [r["recording_id"] for r in supervisor.get(f"/api/recordings?officer={OFFICER}").json()["recordings"]] == [rid]
    window = f"since={(start - timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%S')}&until={(start + timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%S')}"
    assert rid in [r["recording_id"] for r in supervisor.get(f"/api/recordings?{window}").json()["recordings"]]
    assert supervisor.get(f"/api/recordings?camera={CAMERA}&since=2001-01-01&until=2001-01-02").json()["recordings"] == []
    bad = supervisor.get("/api/recordings?since=yesterday")
    assert bad.status == 400 and "ISO 8601" in bad.json()["error"]


def test_recording_detail_thumbnails_and_integrity(supervisor: Client, recording: dict[str, Any]) -> None:
    rid = recording["recording_id"]
    detail = supervisor.get(f"/api/recordings/{rid}").json()
    assert detail["recording"]["officer_id"] == OFFICER
    segments = detail["segments"]
    assert [s["sequence"] for s in segments] == list(range(recording["segment_count"]))
    # The first segment's thumbnail was stored with it; the others not due are cut when asked for.
    assert segments[0]["thumbnail_stored"] and not all(s["thumbnail_stored"] for s in segments)
    for segment in segments:
        thumb = supervisor.get(segment["thumbnail_url"])
        assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/jpeg" and thumb.body[:2] == b"\xff\xd8"
    # Closed recordings are sealed by the worker; the check includes the seal, as `bwv verify` does.
    integrity = wait_for(
        lambda: (r := supervisor.get(f"/api/recordings/{rid}/integrity").json())["sealed"] and r, 20, "a sealed, verified recording"
    )
    assert integrity["ok"] and integrity["state"] == "verified" and integrity["problem"] is None
    assert integrity["sealed"]["segment_count"] == recording["segment_count"]
    assert integrity["segments"] == recording["segment_count"] and integrity["chain_head_matches_index"]
    assert supervisor.get("/api/recordings/no-such-recording").status == 404


def test_video_is_one_playable_mp4_and_views_and_plays_are_audited(settings: Settings, supervisor: Client, recording: dict[str, Any]) -> None:
    rid = recording["recording_id"]
    supervisor.get(f"/api/recordings/{rid}")
    video = supervisor.get(f"/media/recordings/{rid}/video.mp4")
    assert video.status == 200 and video.headers["Content-Type"] == "video/mp4"
    with av.open(io.BytesIO(video.body)) as mp4:
        assert [s.codec_context.name for s in mp4.streams] == ["h264", "aac"]
        assert mp4.duration / 1e6 == pytest.approx(7.0, abs=0.3)
    part = supervisor.get(f"/media/recordings/{rid}/video.mp4", headers={"Range": "bytes=100-199"})
    assert part.status == 206 and part.body == video.body[100:200]  # seeking works: range requests
    again = supervisor.get(f"/media/recordings/{rid}/video.mp4", headers={"Range": "bytes=0-"})
    assert again.status == 206
    viewed = wait_for(lambda: custody(settings, "viewed", rid), 15, "the viewed custody event")
    played = wait_for(lambda: custody(settings, "played", rid), 15, "the played custody event")
    assert {e["actor"] for e in viewed} == {"sup-ann"} and viewed[0]["camera_id"] == CAMERA
    assert len(played) == 1 and played[0]["actor"] == "sup-ann"  # a player's repeated requests are one play


def test_a_viewer_may_watch_but_not_act(viewer: Client, recording: dict[str, Any]) -> None:
    rid = recording["recording_id"]
    assert viewer.get(f"/api/recordings/{rid}").status == 200
    assert viewer.get(f"/media/recordings/{rid}/video.mp4", headers={"Range": "bytes=0-99"}).status == 206
    for action, body in (("mark", {"reason": "r"}), ("release", {"reason": "r"}), ("export", {})):
        refused = viewer.post_json(f"/api/recordings/{rid}/{action}", body)
        assert refused.status == 403 and "supervisor" in refused.json()["error"], action
    assert viewer.post_json("/api/alerts/ack", {"dedup_key": "x", "at": "y"}).status == 403


def test_export_downloads_a_bundle_that_verifies(settings: Settings, supervisor: Client, recording: dict[str, Any], tmp_path: Path) -> None:
    rid = recording["recording_id"]
    no_reason = supervisor.post_json(f"/api/recordings/{rid}/export", {})
    assert no_reason.status == 400 and "reason" in no_reason.json()["error"]

    def exported() -> dict[str, Any] | None:  # the recording must be closed and sealed first
        response = supervisor.post_json(f"/api/recordings/{rid}/export", {"reason": "CPS request, case 4711"})
        return response.json() if response.status == 200 else None

    done = wait_for(exported, 30, "an export of the sealed recording")
    bundle = supervisor.get(done["download"])
    assert bundle.status == 200
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle.body)
    assert hashlib.sha256(bundle.body).hexdigest() == done["sha256"]
    report = verify_bundle(path, published_keys(settings))
    assert report.ok, report.problems
    events = wait_for(lambda: custody(settings, "exported", rid), 15, "the exported custody event")
    assert events[0]["actor"] == "sup-ann" and events[0]["reason"] == "CPS request, case 4711"


def _alert(client: Client, camera: str, kind: str) -> dict[str, Any] | None:
    return next((a for a in client.get("/api/state").json()["alerts"] if a["camera_id"] == camera and a["kind"] == kind), None)


def test_acknowledging_an_alert_records_who(settings: Settings, supervisor: Client, viewer: Client, room: ControlRoom) -> None:
    camera, recording_id = "cr-quiet-cam", "cr-quiet-rec"
    enroll_cameras(settings, camera)
    publisher = SegmentPublisher(settings)
    publish_ts(publisher, camera, recording_id, {0: 40, 1: 41})
    alert = wait_for(lambda: _alert(supervisor, camera, "camera_silent"), 30, "camera_silent in the control room")
    assert alert["state"] == "raised" and alert["acknowledged_by"] is None
    assert viewer.post_json("/api/alerts/ack", {"dedup_key": alert["dedup_key"], "at": alert["at"]}).status == 403
    stale = supervisor.post_json("/api/alerts/ack", {"dedup_key": alert["dedup_key"], "at": "2001-01-01T00:00:00+00:00"})
    assert stale.status == 409
    acked = supervisor.post_json("/api/alerts/ack", {"dedup_key": alert["dedup_key"], "at": alert["at"], "note": "radioed the officer"})
    assert acked.status == 200 and acked.json()["acknowledged_by"] == "sup-ann"
    events = wait_for(lambda: custody(settings, "alert_acknowledged", recording_id), 15, "the acknowledgement on bwv.custody")
    assert events[0]["actor"] == "sup-ann" and events[0]["reason"] == "radioed the officer"
    assert events[0]["detail"]["dedup_key"] == alert["dedup_key"] and events[0]["detail"]["alert_kind"] == "camera_silent"
    # Another control room (or this one restarted) reads the acknowledgement back from bwv.custody.
    other = start_control_room(room.users.parent.parent / f"{room.users.parent.name}-other")
    try:
        again = wait_for(lambda: _alert(logged_in(other.url, VIEWER), camera, "camera_silent"), 30, "the alert elsewhere")
        assert again["acknowledged_by"] == "sup-ann"
    finally:
        other.stop()
    # The camera sends again: the alert is cleared and leaves the open list.
    publish_ts(publisher, camera, recording_id, {2: 49})
    publisher.close()
    wait_for(lambda: _alert(supervisor, camera, "camera_silent") is None, 30, "the alert cleared")


def test_mark_and_release_take_the_commands_path(supervisor: Client, recording: dict[str, Any]) -> None:
    """Through streams.commands to the worker, which applies it (and records it with the operator's name)."""
    rid = recording["recording_id"]
    missing_reason = supervisor.post_json(f"/api/recordings/{rid}/mark", {"reason": "  "})
    assert missing_reason.status == 400
    marked = supervisor.post_json(f"/api/recordings/{rid}/mark", {"reason": "assault allegation, case 4711", "category": "evidential"})
    assert marked.status == 200, marked.body  # 202 would mean: sent, no worker applied it
    summary = marked.json()["recording"]
    assert summary["legal_hold"] and summary["retention_category"] == "evidential" and summary["marked_by"] == "sup-ann"
    assert summary["marked_reason"] == "assault allegation, case 4711"
    released = supervisor.post_json(f"/api/recordings/{rid}/release", {"reason": "case closed"})
    assert released.status == 200, released.body
    after = released.json()["recording"]
    assert not after["legal_hold"] and after["retention_category"] == "unmarked" and after["expires_at"]


def test_metrics_count_what_operators_did(room: ControlRoom, supervisor: Client, recording: dict[str, Any]) -> None:
    """On BWV_METRICS_PORT, without a login (the web port admits nobody without one)."""
    text = Client("").get(room.metrics_url).body.decode()
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert values['bwv_controlroom_logins_total{result="ok"}'] >= 2
    assert values['bwv_controlroom_logins_total{result="failed"}'] >= 1
    assert values['bwv_controlroom_custody_events_total{kind="played"}'] >= 1
    assert values['bwv_controlroom_actions_total{action="mark",result="applied"}'] == 1
    assert values['bwv_controlroom_actions_total{action="export",result="refused"}'] == 1
    assert values["bwv_controlroom_remux_seconds_count"] >= 1
