"""The control room in a real browser: headless Debian Chromium driven by Playwright.

Four real-time cameras record a 60 s file; an operator logs in and watches the
wall update, sees a camera that stops raise an alert (and acknowledges it),
plays a recording (video and audio), marks it as evidence; a viewer is refused
by the server, and a stranger gets nothing but the login page.

``BWV_UPDATE_SCREENSHOT=1`` also writes the wall to docs/control-room.png.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bwv.settings import Settings
from tests.helpers import enroll_cameras, write_sample_video
from tests.integration.controlroom_support import (
    MS, NEEDS_CHROMIUM, SUPERVISOR, VIEWER, ControlRoom, browser_login, open_page, start_camera, stop_cameras,
)

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.integration, NEEDS_CHROMIUM]

CAMERAS = [f"wall-cam-{i}" for i in range(1, 5)]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "control-room.png"


def _start_camera(camera: str, source: Path) -> subprocess.Popen[str]:
    """A wall camera playing ``source`` in real time, so it stays live."""
    return start_camera(camera, f"officer-{camera[-1]}", "--source", str(source), "--realtime")


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of H.264 + AAC: the cameras stay live for the whole module."""
    return write_sample_video(tmp_path_factory.mktemp("browser-media") / "long.mp4", 60.0)


@pytest.fixture(scope="module")
def fleet(settings: Settings, room: ControlRoom, long_video: Path) -> Iterator[dict[str, subprocess.Popen[str]]]:
    enroll_cameras(settings, *CAMERAS)
    cameras = {camera: _start_camera(camera, long_video) for camera in CAMERAS}
    try:
        yield cameras
    finally:
        stop_cameras(cameras.values())


def _login(browser: object, room: ControlRoom, who: tuple[str, str, str], path: str = "/"):  # type: ignore[no-untyped-def]
    page = open_page(browser, room, height=720)
    browser_login(page, room, who, path)
    return page


@pytest.fixture(scope="module")
def supervisor(browser: object, room: ControlRoom):  # type: ignore[no-untyped-def]
    page = _login(browser, room, SUPERVISOR)
    yield page
    page.context.close()


def _thumbnails(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return page.evaluate(
        """cameras => Object.fromEntries(cameras.map(c => {
            const img = document.querySelector(`.tile[data-camera="${c}"] img`);
            return [c, img ? img.dataset.thumbnail || "" : ""];
        }))""",
        CAMERAS,
    )


def test_a_stranger_gets_only_the_login_page(browser: object, room: ControlRoom) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(room.url + "/recordings")
    assert "/login" in page.url and page.locator("#password").is_visible()
    for path in ("/api/state", "/events", "/api/recordings", "/media/recordings/x/video.mp4"):
        response = context.request.get(room.url + path)
        assert response.status == 401, path
    page.fill("#name", SUPERVISOR[0])
    page.fill("#password", "not the password")
    page.click("#login-button")
    assert page.locator("#login-error").inner_text() == "Wrong name or password."
    context.close()


def test_the_wall_shows_every_camera_and_updates_its_thumbnail(supervisor, fleet: dict[str, subprocess.Popen[str]]) -> None:  # type: ignore[no-untyped-def]
    page = supervisor
    page.fill("#search", "wall-cam")
    page.wait_for_function(
        "cs => cs.every(c => { const i = document.querySelector(`.tile[data-camera='${c}'] img`); return i && i.dataset.thumbnail; })",
        arg=CAMERAS, timeout=40 * MS,
    )
    first = _thumbnails(page)
    # A new thumbnail every 10 s of footage (BWV_THUMBNAIL_INTERVAL_SECONDS): each tile's picture
    # changes, pushed by the server (no reload).
    page.wait_for_function(
        "([cs, before]) => cs.every(c => document.querySelector(`.tile[data-camera='${c}'] img`).dataset.thumbnail !== before[c])",
        arg=[CAMERAS, first], timeout=30 * MS,
    )
    assert page.locator(".tile").count() == 4
    tile = page.locator(".tile[data-camera='wall-cam-2']")
    assert tile.get_attribute("data-state") == "recording"
    assert tile.locator(".tile-officer").inner_text() == "officer-2"
    assert tile.locator(".state-badge").inner_text() == "● REC" and tile.locator(".live").inner_text() == "LIVE"
    assert tile.locator(".delay").inner_text().endswith(" s")
    page.wait_for_function("() => [...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)")
    # Filters and search.
    page.click("[data-filter='silent']")
    assert page.locator(".tile").count() == 0
    page.click("[data-filter='recording']")
    assert page.locator(".tile").count() == 4
    page.fill("#search", "officer-3")
    assert [t.get_attribute("data-camera") for t in page.locator(".tile").all()] == ["wall-cam-3"]
    page.click("[data-filter='all']")


def test_a_camera_that_stops_raises_an_alert_which_is_acknowledged_then_cleared(
    supervisor, fleet: dict[str, subprocess.Popen[str]], long_video: Path  # type: ignore[no-untyped-def]
) -> None:
    page = supervisor
    page.fill("#search", "wall-cam")
    fleet["wall-cam-4"].send_signal(signal.SIGKILL)  # gone without an end marker: the recording stays open
    fleet["wall-cam-4"].communicate()
    alert = page.locator("li.alert[data-kind='camera_silent'][data-camera='wall-cam-4']")
    alert.wait_for(timeout=30 * MS)
    tile = page.locator(".tile[data-camera='wall-cam-4']")
    page.wait_for_function("() => document.querySelector(\".tile[data-camera='wall-cam-4']\").dataset.state === 'silent'")
    assert "alerting" in tile.get_attribute("class") and tile.get_attribute("data-live") == "false"
    assert "camera_silent" in tile.locator(".tile-alert").inner_text()
    assert alert.get_attribute("class").startswith("alert sev-")
    if os.environ.get("BWV_UPDATE_SCREENSHOT"):  # the README's picture: four cameras, one gone quiet
        page.wait_for_function("() => [...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(DOCS_SCREENSHOT))
    alert.locator(".ack-button").click()
    alert.locator(".ack-by").wait_for()
    assert alert.locator(".ack-by").inner_text() == "✓ acknowledged by sup-ann"
    # The camera comes back: the alert is cleared, fades out and leaves the panel.
    fleet["wall-cam-4"] = _start_camera("wall-cam-4", long_video)
    alert.wait_for(state="detached", timeout=40 * MS)
    page.wait_for_function("() => !document.querySelector(\".tile[data-camera='wall-cam-4']\").classList.contains('alerting')")


def _open_recording(page, camera: str) -> str:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.fill("#search", camera)
    page.wait_for_function(
        "c => { const a = document.querySelector(`.tile[data-camera='${c}'] a.tile-recording`); return a && !a.hidden && a.getAttribute('href') !== '#'; }",
        arg=camera,
    )
    # The picture of a live tile opens the live player (test_controlroom_live_browser.py); this link the recording.
    page.locator(f".tile[data-camera='{camera}'] a.tile-recording").click()
    page.wait_for_url("**/recordings/**")
    page.locator("#facts dd").first.wait_for()
    return page.url.rsplit("/", 1)[1]


def test_open_a_recording_verify_it_and_play_it_with_sound(supervisor, fleet: dict[str, subprocess.Popen[str]]) -> None:  # type: ignore[no-untyped-def]
    page = supervisor
    _open_recording(page, "wall-cam-1")
    assert page.locator("[data-fact='Camera']").inner_text() == "wall-cam-1"
    page.locator("#integrity.integrity-ok").wait_for(timeout=30 * MS)
    assert page.locator("#integrity").inner_text().startswith("✓ Verified")
    page.locator("#strip figure").first.click()  # a click on the first thumbnail plays from there
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return !v.paused && v.readyState >= 3 && v.currentTime > 0.5; }",
        timeout=30 * MS,
    )
    duration, width, audio_bytes = page.evaluate(
        "() => { const v = document.getElementById('player'); return [v.duration, v.videoWidth, v.webkitAudioDecodedByteCount]; }"
    )
    assert duration > 2 and width == 320
    assert audio_bytes > 0  # the AAC track plays too


def test_search_recordings_by_camera(supervisor, fleet: dict[str, subprocess.Popen[str]], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = supervisor
    page.goto("/recordings")
    page.fill("#q-camera", "wall-cam-2")
    page.click("#search-form button[type='submit']")
    page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")
    row = page.locator("#results tbody tr")
    assert row.get_attribute("data-recording").startswith("wall-cam-2-")
    assert "officer-2" in row.inner_text()
    assert "camera=wall-cam-2" in page.url  # the search is in the address, to share or come back to
    page.fill("#q-since", "2001-01-01T00:00:00")
    page.fill("#q-until", "2001-01-02T00:00:00")
    page.click("#search-form button[type='submit']")
    page.wait_for_function("() => document.getElementById('result-note').textContent === 'No recording matches.'")
    page.screenshot(path=str(tmp_path / "recordings.png"))


def test_a_viewer_cannot_mark_or_export_the_server_refuses(browser: object, room: ControlRoom, fleet: dict[str, subprocess.Popen[str]]) -> None:
    page = _login(browser, room, VIEWER)
    try:
        _open_recording(page, "wall-cam-2")
        assert page.locator("#mark-button").is_disabled() and page.locator("#export-button").is_disabled()
        assert "supervisors" in page.locator("#viewer-note").inner_text()
        # Not just a disabled button: the server refuses the request itself.
        statuses = page.evaluate(
            """async () => {
                const id = document.getElementById('recording').dataset.recordingId;
                const post = (url, body) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
                return [
                    (await post(`/api/recordings/${id}/mark`, {reason: 'r', category: 'evidential'})).status,
                    (await post(`/api/recordings/${id}/release`, {reason: 'r'})).status,
                    (await post(`/api/recordings/${id}/export`, {})).status,
                    (await post('/api/alerts/ack', {dedup_key: 'k', at: 't'})).status,
                ];
            }"""
        )
        assert statuses == [403, 403, 403, 403]
        assert page.locator("li.alert .ack-button").count() == 0
    finally:
        page.context.close()


def test_mark_as_evidence_then_release_from_the_recording_page(supervisor, fleet: dict[str, subprocess.Popen[str]], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = supervisor
    _open_recording(page, "wall-cam-3")
    assert not page.locator("#export-button").is_disabled()  # a supervisor may export
    page.select_option("#mark-category", "evidential")
    page.fill("#mark-reason", "complaint 2026/118")
    page.click("#mark-button")
    page.wait_for_function("() => document.getElementById('action-result').textContent.startsWith('Marked as evidence')", timeout=40 * MS)
    assert page.locator("#rec-hold").is_visible()
    assert page.locator("[data-fact='Legal hold']").text_content() == "on"
    assert page.locator("[data-fact='Marked by']").inner_text() == "sup-ann"
    assert page.locator("[data-fact='Expires']").inner_text() == "kept until released"
    page.screenshot(path=str(tmp_path / "marked.png"), full_page=True)
    page.fill("#release-reason", "complaint withdrawn")
    page.click("#release-button")
    page.wait_for_function("() => document.getElementById('action-result').textContent.startsWith('Released')", timeout=40 * MS)
    assert not page.locator("#rec-hold").is_visible()
    assert page.locator("[data-fact='Category']").inner_text() == "unmarked"
