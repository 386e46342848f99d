"""Watching over HTTP, against the real stack: HLS playlists, segments, custody, routes, the cache.

A real ``bwv control-room`` process and a real camera (``bwv camera --source
testsrc --realtime --walk-from``) recording while the tests read its live
playlist; a second camera records a short file that closes (a VOD). The last
test runs the control room in-process over a store that counts S3 calls, with
20 concurrent viewers of the live camera. The browser side is in
``test_controlroom_live_browser.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from bwv.settings import Settings
from consumers.controlroom.auth import COOKIE
from consumers.controlroom.playlists import LIVE_WINDOW
from schemas.layout import segment_key
from schemas.records import SegmentHeader
from schemas.topics import CUSTODY
from streams.objectstore import META_HEADER, ObjectStore
from tests.helpers import enroll_cameras, records, wait_for
from tests.integration.controlroom_support import (
    SUPERVISOR, Client, ControlRoom, live_recording_of, record_file, start_walking_camera, stop_cameras,
)

pytestmark = pytest.mark.integration

LIVE_CAMERA, VOD_CAMERA = "watch-cam-1", "watch-cam-2"
WALK_FROM = (51.5072, -0.1276)


@pytest.fixture(scope="module")
def live_recording(settings: Settings, supervisor: Client) -> Iterator[str]:
    """A camera recording in real time (2 s segments, test tone, walking) for the whole module."""
    enroll_cameras(settings, LIVE_CAMERA)
    proc = start_walking_camera(LIVE_CAMERA, "pc-watch-1", 120, WALK_FROM)
    try:
        yield wait_for(lambda: live_recording_of(supervisor, LIVE_CAMERA), 60, "three live segments in the index")
    finally:
        stop_cameras([proc])


@pytest.fixture(scope="module")
def finished_recording(settings: Settings, supervisor: Client, sample_video: Path) -> dict[str, Any]:
    """The 7 s sample file recorded and closed."""
    enroll_cameras(settings, VOD_CAMERA)
    rid = record_file(VOD_CAMERA, sample_video)

    def closed() -> dict[str, Any] | None:
        r = supervisor.get(f"/api/recordings/{rid}")
        data = r.json().get("recording") if r.status == 200 else None
        return data if data and data["state"] == "closed" and data["segment_count"] == data["segments_sent"] else None

    return wait_for(closed, 60, "the sample recording closed")


def parse(playlist: str) -> dict[str, Any]:
    lines = playlist.splitlines()
    tags = {line.split(":", 1)[0]: line.split(":", 1)[1] if ":" in line else "" for line in lines if line.startswith("#")}
    return {
        "lines": lines,
        "tags": tags,
        "uris": [line for line in lines if line and not line.startswith("#")],
        "durations": [float(line[len("#EXTINF:"):].rstrip(",")) for line in lines if line.startswith("#EXTINF:")],
        "media_sequence": int(tags["#EXT-X-MEDIA-SEQUENCE"]),
    }


def played(settings: Settings, recording_id: str) -> list[dict[str, Any]]:
    return [e for e in records(settings, CUSTODY) if e["kind"] == "played" and e.get("recording_id") == recording_id]


def test_without_login_there_is_no_playlist_and_no_segment(room: ControlRoom, live_recording: str) -> None:
    anyone = Client(room.url)
    for path in (
        f"/media/recordings/{live_recording}/live.m3u8", f"/media/recordings/{live_recording}/index.m3u8",
        f"/media/recordings/{live_recording}/segments/00000000.ts", f"/api/recordings/{live_recording}/route", "/map",
    ):
        response = anyone.get(path)
        assert response.status in (401, 303), path
        assert b"#EXTM3U" not in response.body and b"G@" not in response.body[:2], path  # no playlist, no TS bytes
        if path.startswith(("/media", "/api")):
            assert response.status == 401 and response.json() == {"error": "not logged in"}, path


def test_the_live_playlist_follows_the_camera_with_its_newest_segments(settings: Settings, supervisor: Client, live_recording: str) -> None:
    base = f"/media/recordings/{live_recording}"
    first = supervisor.get(f"{base}/live.m3u8?view=http-test-1")
    assert first.status == 200 and first.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    assert first.headers["Cache-Control"] == "private, no-store"
    p = parse(first.body.decode())
    assert p["lines"][:3] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2"]
    assert "#EXT-X-ENDLIST" not in p["tags"] and "#EXT-X-PROGRAM-DATE-TIME" in p["tags"]
    assert 1 <= len(p["uris"]) <= LIVE_WINDOW and all(re.fullmatch(r"segments/\d{8}\.ts", u) for u in p["uris"])
    assert all(1.5 <= d <= 2.5 for d in p["durations"])

    # The segments are the stored bytes, unchanged (MPEG-TS, the camera's own SHA-256).
    store = ObjectStore(settings)
    newest = p["uris"][-1]
    body = supervisor.get(f"{base}/{newest}")
    assert body.status == 200 and body.headers["Content-Type"] == "video/mp2t" and body.body[0] == 0x47
    sequence = int(newest.split("/")[1].split(".")[0])
    header = SegmentHeader.model_validate_json(store.head(store.footage_bucket, segment_key(live_recording, sequence)).metadata[META_HEADER])
    assert hashlib.sha256(body.body).hexdigest() == header.sha256
    assert "immutable" in body.headers["Cache-Control"]
    assert supervisor.get(f"{base}/segments/99999999.ts").status == 404
    assert supervisor.get(f"{base}/segments/nope.ts").status == 400

    # A blocking reload (LL-HLS _HLS_msn) waits for the next segment, then lists it.
    assert p["tags"]["#EXT-X-SERVER-CONTROL"] == "CAN-BLOCK-RELOAD=YES"
    wanted = p["media_sequence"] + len(p["uris"])
    started = time.monotonic()
    later = parse(supervisor.get(f"{base}/live.m3u8?view=http-test-1&_HLS_msn={wanted}").body.decode())
    assert time.monotonic() - started < 5.5
    assert later["media_sequence"] + len(later["uris"]) - 1 >= wanted
    assert later["uris"][-1] != newest
    # The same segment keeps its media sequence number as the window slides.
    position = {u: later["media_sequence"] + i for i, u in enumerate(later["uris"])}
    assert all(position[u] == p["media_sequence"] + i for i, u in enumerate(p["uris"]) if u in position)

    # One player (its view token), however often it reloads, is one "played" event, live.
    events = wait_for(lambda: [e for e in played(settings, live_recording) if e["detail"].get("live")], 15, "the live play")
    assert len(events) == 1 and events[0]["actor"] == SUPERVISOR[0] and events[0]["camera_id"] == LIVE_CAMERA


def test_a_finished_recording_is_a_vod_from_its_start(settings: Settings, supervisor: Client, finished_recording: dict[str, Any]) -> None:
    rid = finished_recording["recording_id"]
    p = parse(supervisor.get(f"/media/recordings/{rid}/index.m3u8?view=http-vod").body.decode())
    assert p["tags"]["#EXT-X-PLAYLIST-TYPE"] == "VOD" and p["lines"][-1] == "#EXT-X-ENDLIST"
    assert p["media_sequence"] == 0 and "#EXT-X-SERVER-CONTROL" not in p["tags"]
    assert [u for u in p["uris"]] == [f"segments/{s:08d}.ts" for s in range(finished_recording["segment_count"])]
    assert sum(p["durations"]) == pytest.approx(7.0, abs=0.3)
    # Not a live view: on the record with live=false.
    events = wait_for(lambda: played(settings, rid), 15, "the recorded play")
    assert [e["detail"] for e in events] == [{"live": False}]
    # Its live playlist ends too: a player that was following it plays out and stops.
    assert "#EXT-X-ENDLIST" in parse(supervisor.get(f"/media/recordings/{rid}/live.m3u8").body.decode())["tags"]
    assert supervisor.get("/media/recordings/no-such-recording/index.m3u8").status == 404


def test_the_route_is_the_segments_locations(supervisor: Client, live_recording: str, finished_recording: dict[str, Any]) -> None:
    route = supervisor.get(f"/api/recordings/{live_recording}/route").json()
    points = route["points"]
    assert len(points) >= 3 and len(points) == route["segments"]
    assert [p["sequence"] for p in points] == sorted(p["sequence"] for p in points)
    assert abs(points[0]["lat"] - WALK_FROM[0]) < 0.01 and abs(points[0]["lon"] - WALK_FROM[1]) < 0.01
    assert (points[0]["lat"], points[0]["lon"]) != (points[-1]["lat"], points[-1]["lon"])  # walking
    assert supervisor.get(f"/api/recordings/{finished_recording['recording_id']}/route").json()["points"] == []  # no GPS


# --- 20 viewers, one S3 read per segment ------------------------------------------------------


class CountingStore:
    """The real ObjectStore, counting the S3 requests made through it, per key."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.footage_bucket = store.footage_bucket
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def _count(self, op: str, key: str) -> None:
        with self._lock:
            self.calls[(op, key)] += 1

    def list(self, bucket: str, prefix: str):  # type: ignore[no-untyped-def]
        self._count("list", prefix)
        return list(self.store.list(bucket, prefix))

    def head(self, bucket: str, key: str):  # type: ignore[no-untyped-def]
        self._count("head", key)
        return self.store.head(bucket, key)

    def get(self, bucket: str, key: str) -> bytes:
        self._count("get", key)
        return self.store.get(bucket, key)

    def per_key(self, op: str) -> dict[str, int]:
        return {key: n for (o, key), n in self.calls.items() if o == op}


def test_twenty_viewers_cost_s3_what_one_does(settings: Settings, live_recording: str, tmp_path: Path) -> None:
    from consumers.controlroom.app import build_context, make_app

    local = settings.model_copy(update={"control_room_users": tmp_path / "users.json"})
    ctx = build_context(local)
    ctx.users.hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    user = ctx.users.add("viewer-20", "viewer", "twenty-viewers-pw")
    counting = CountingStore(ctx.store)
    ctx.segments.store = counting  # type: ignore[assignment]
    viewers, seconds = 20, 8.0
    fetched: Counter[str] = Counter()

    async def viewer(base: str, n: int) -> None:
        token, _ = ctx.signer.issue(user.name, user.password_tag)
        async with aiohttp.ClientSession(base, cookies={COOKIE: token}) as http:
            seen: set[str] = set()
            deadline = time.monotonic() + seconds
            view = secrets.token_hex(6)
            while time.monotonic() < deadline:
                async with http.get(f"/media/recordings/{live_recording}/live.m3u8?view={view}") as r:
                    assert r.status == 200, await r.text()
                    uris = parse(await r.text())["uris"]
                for uri in uris[-2:]:  # as a player near the live edge: the newest segments
                    if uri not in seen:
                        async with http.get(f"/media/recordings/{live_recording}/{uri}") as r:
                            assert r.status == 200 and (await r.read())[0] == 0x47
                        seen.add(uri)
                        fetched[uri] += 1
                await asyncio.sleep(0.2 + 0.05 * (n % 5))

    async def scenario() -> None:
        async with TestServer(make_app(local, ctx)) as server:
            base = str(server.make_url("/"))
            await asyncio.gather(*(viewer(base, n) for n in range(viewers)))

    asyncio.run(scenario())
    gets, heads, lists = counting.per_key("get"), counting.per_key("head"), counting.per_key("list")
    # Every viewer got the segments that came while they watched (the very last perhaps not all of them).
    assert sum(1 for n in fetched.values() if n == viewers) >= 3, fetched
    assert gets and max(gets.values()) == 1, gets  # one GET per segment, for all 20
    assert max(heads.values()) == 1, heads  # headers: once per segment, ever
    assert sum(lists.values()) <= seconds / 0.5 + 4, lists  # one listing per half second, for all 20
