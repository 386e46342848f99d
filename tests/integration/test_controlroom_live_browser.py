"""Watching in a real browser: headless Debian Chromium (Playwright) playing the control room's HLS.

Two simulated cameras record live (``bwv camera --source testsrc --realtime
--walk-from``: a test tone, a walking route) and a third records a 7 s file
that closes. An operator clicks a live tile and the player follows the camera
with sound, reporting how far behind capture it is; the finished recording
plays to its end; the map shows the cameras; a recording page shows the route.
Nothing the pages load comes from anywhere but the control room, and the
Content-Security-Policy (which admits hls.js's blob: media and worker) is never
violated.

``BWV_UPDATE_SCREENSHOT=1`` also writes the live player to docs/watch-live.png.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bwv.settings import Settings
from tests.helpers import enroll_cameras, wait_for
from tests.integration.controlroom_support import (
    MS, NEEDS_CHROMIUM, SUPERVISOR, ControlRoom, browser_login, live_recording_of, logged_in, open_page, record_file,
    start_walking_camera, stop_cameras,
)

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.integration, NEEDS_CHROMIUM]

LIVE = {"live-cam-1": (51.5072, -0.1276), "live-cam-2": (51.5033, -0.1195)}
VOD_CAMERA = "vod-cam-1"
SEGMENT_SECONDS = 2.0
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "watch-live.png"


@pytest.fixture(scope="module")
def cameras(settings: Settings, room: ControlRoom) -> Iterator[dict[str, str]]:
    """The live cameras recording, each with three segments indexed: camera id -> recording id."""
    enroll_cameras(settings, *LIVE)
    procs = [start_walking_camera(camera, f"pc-{camera}", 150, walk_from) for camera, walk_from in LIVE.items()]
    client = logged_in(room.url, SUPERVISOR)
    try:
        yield {camera: wait_for(lambda c=camera: live_recording_of(client, c), 60, f"{camera}'s first segments") for camera in LIVE}  # type: ignore[misc]
    finally:
        stop_cameras(procs)


@pytest.fixture(scope="module")
def finished(settings: Settings, room: ControlRoom, sample_video: Path) -> str:
    """The 7 s sample file, recorded and closed: its recording id."""
    enroll_cameras(settings, VOD_CAMERA)
    rid = record_file(VOD_CAMERA, sample_video)
    client = logged_in(room.url, SUPERVISOR)

    def closed() -> bool:
        r = client.get(f"/api/recordings/{rid}")
        return r.status == 200 and r.json()["recording"]["state"] == "closed"

    wait_for(closed, 60, "the sample recording closed")
    return rid


class Watched:
    """A logged-in page that remembers every request it made and every CSP complaint or script error."""

    def __init__(self, browser: Any, room: ControlRoom) -> None:
        self.page = open_page(browser, room, height=800)
        self.context = self.page.context
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("console", lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None)
        browser_login(self.page, room, SUPERVISOR)
        self.origin = room.url

    def check_clean(self) -> None:
        assert self.problems == []
        outside = [u for u in self.requests if not u.startswith((self.origin, "blob:", "data:"))]
        assert outside == [], "the page fetched from elsewhere"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def operator(browser: Any, room: ControlRoom) -> Iterator[Watched]:
    watched = Watched(browser, room)
    yield watched
    watched.close()


def _player(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => { const v = document.getElementById('watch-player'); const d = document.getElementById('watch-stats').dataset;
            return {time: v.currentTime, paused: v.paused, audio: v.webkitAudioDecodedByteCount, width: v.videoWidth,
                    behindLive: d.behindLive ? Number(d.behindLive) : null, shown: document.getElementById('watch-behind').textContent}; }"""
    )


def test_a_live_tile_opens_a_player_that_follows_the_camera_with_sound(operator: Watched, cameras: dict[str, str]) -> None:
    page = operator.page
    camera = "live-cam-1"
    page.fill("#search", camera)
    thumb = page.locator(f".tile[data-camera='{camera}'] a.thumb[title='Watch live']")
    thumb.wait_for(timeout=30 * MS)
    thumb.click()
    page.locator("#watch[open]").wait_for()
    assert page.locator("#watch-camera").inner_text() == camera
    assert page.get_attribute("#watch", "data-recording") == cameras[camera]
    page.wait_for_function(
        "() => { const v = document.getElementById('watch-player'); return !v.paused && v.currentTime > 1 && v.readyState >= 3; }",
        timeout=30 * MS,
    )
    # Playing, following live: the picture advances, the tone is decoded, the delay stays under 3 segments.
    samples = []
    for _ in range(10):
        samples.append(_player(page))
        time.sleep(1)
    assert samples[-1]["time"] - samples[0]["time"] > 7, samples
    assert all(not s["paused"] for s in samples) and samples[-1]["width"] == 320
    assert samples[-1]["audio"] > samples[0]["audio"] > 0  # the AAC tone plays too
    delays = [s["behindLive"] for s in samples]
    assert all(d is not None and 0 < d < 3 * SEGMENT_SECONDS for d in delays), delays
    assert samples[-1]["shown"].endswith(" s")
    buffered = page.evaluate("() => BWV.watch.player.buffered.map(b => (b.bufferedAt - b.captureEnd) / 1000)")
    assert len(buffered) >= 4 and sorted(buffered)[len(buffered) // 2] < 2 * SEGMENT_SECONDS, buffered
    if os.environ.get("BWV_UPDATE_SCREENSHOT"):  # the README's picture of the live player
        page.screenshot(path=str(DOCS_SCREENSHOT))
    page.click("#watch-close")
    assert not page.locator("#watch").is_visible()
    operator.check_clean()


def test_a_finished_recording_plays_from_its_start_to_its_end(operator: Watched, finished: str) -> None:
    page = operator.page
    page.goto(f"/recordings/{finished}")
    page.locator("#play-button:not([hidden])").wait_for()
    page.evaluate("() => { window.__ended = false; document.getElementById('player').addEventListener('ended', () => { window.__ended = true; }); }")
    page.click("#play-button")
    page.wait_for_function("() => { const v = document.getElementById('player'); return !v.paused && v.currentTime > 0; }")
    assert page.evaluate("() => document.getElementById('player').currentTime") < 3  # from the start
    page.wait_for_function("() => window.__ended", timeout=30 * MS)
    end, duration, audio = page.evaluate(
        "() => { const v = document.getElementById('player'); return [v.currentTime, v.duration, v.webkitAudioDecodedByteCount]; }"
    )
    assert duration == pytest.approx(7.0, abs=0.5) and end == pytest.approx(duration, abs=0.3) and audio > 0
    operator.check_clean()


def test_without_login_the_browser_gets_no_playlist_and_no_segment(browser: Any, room: ControlRoom, cameras: dict[str, str]) -> None:
    context = browser.new_context()
    try:
        rid = cameras["live-cam-1"]
        for path in ("live.m3u8", "index.m3u8", "segments/00000001.ts"):
            response = context.request.get(f"{room.url}/media/recordings/{rid}/{path}")
            assert response.status == 401, path
            assert response.json() == {"error": "not logged in"}
    finally:
        context.close()


def test_the_map_shows_every_located_camera_and_moves_it(operator: Watched, room: ControlRoom, cameras: dict[str, str]) -> None:
    page = operator.page
    page.goto("/map")
    for camera in LIVE:
        page.locator(f".cam-marker[data-camera='{camera}']").wait_for()
    located = [c["camera_id"] for c in page.evaluate("async () => (await (await fetch('/api/state')).json()).cameras") if c.get("location")]
    assert page.locator(".cam-marker").count() == len(located) >= len(LIVE)
    assert page.get_attribute(".cam-marker[data-camera='live-cam-1']", "data-state") == "recording"
    assert page.locator(".leaflet-tile-container canvas").count() > 0  # the grid, drawn here: no tile server set
    # The camera walks: its marker moves with the next segments, pushed over /events.
    where = "() => document.querySelector(\".cam-marker[data-camera='live-cam-1']\").parentElement.style.transform"
    before = page.evaluate(where)
    page.wait_for_function(f"before => ({where})() !== before", arg=before, timeout=20 * MS)
    page.locator(".cam-marker[data-camera='live-cam-1']").click()
    assert page.locator(".leaflet-popup-content a", has_text="Watch live").get_attribute("href") == "/?watch=live-cam-1"
    operator.check_clean()


def test_a_recording_page_shows_the_route(operator: Watched, cameras: dict[str, str]) -> None:
    page = operator.page
    page.goto(f"/recordings/{cameras['live-cam-2']}")
    page.locator("#route-card:not([hidden])").wait_for()
    page.locator("path.route-line").wait_for()
    assert int(page.get_attribute("#route-map", "data-points")) >= 3
    assert "segments located" in page.locator("#route-note").inner_text()
    operator.check_clean()
