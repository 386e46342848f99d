"""Helpers for control-room tests: a real ``bwv control-room`` process, operators, an HTTP client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from bwv.stack import Child, free_port, wait_for_port
from tests.helpers import bwv

SUPERVISOR = ("sup-ann", "supervisor", "ann-correct-horse")
VIEWER = ("view-bob", "viewer", "bob-battery-staple")

# The browser tests: Debian's chromium, driven by Playwright (whose timeouts are in milliseconds).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
MS = 1000
# Skipped on a developer machine without it; in CI (.ci/run installs it) a missing browser fails.
NEEDS_CHROMIUM = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() and not os.environ.get("CI"), reason="needs Debian's chromium (.ci/run installs it)"
)


def add_user(users: Path, name: str, role: str, password: str) -> None:
    """Through the real command line, as an administrator would."""
    result = subprocess.run(
        [sys.executable, "-m", "bwv", "control-room", "add-user", name, "--role", role, "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BWV_CONTROL_ROOM_USERS": str(users)},
    )
    assert result.returncode == 0, result.stderr
    assert f"{name}: {role}" in result.stdout


@dataclass
class ControlRoom:
    url: str
    users: Path
    child: Child
    metrics_url: str

    def log(self) -> str:
        assert self.child.log_path is not None
        return self.child.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.child.stop()


def start_control_room(base: Path, env: dict[str, str] | None = None) -> ControlRoom:
    users = base / "users.json"
    for name, role, password in (SUPERVISOR, VIEWER):
        add_user(users, name, role, password)
    port, metrics_port = free_port(), free_port()
    log_path = base / "control-room.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bwv", "control-room", "--port", str(port)],
        stdout=open(log_path, "ab"),  # noqa: SIM115 - owned by the child
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "BWV_CONTROL_ROOM_USERS": str(users), "BWV_METRICS_PORT": str(metrics_port), **(env or {})},
        start_new_session=True,
    )
    child = Child("control room", proc, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_for_port(port, timeout=30, proc=proc)
    except Exception:
        child.stop()
        raise
    return ControlRoom(child.url, users, child, f"http://127.0.0.1:{metrics_port}/metrics")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    """A browser-less operator: a cookie jar and plain HTTP (redirects not followed)."""

    base: str
    jar: CookieJar = field(default_factory=CookieJar)

    def __post_init__(self) -> None:
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with self._opener.open(req, timeout=60) as r:
                return Response(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers), exc.read())

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_json(self, path: str, payload: dict[str, Any]) -> Response:
        return self.request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def login(self, name: str, password: str) -> Response:
        form = urllib.parse.urlencode({"name": name, "password": password, "next": "/"}).encode()
        return self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})


def logged_in(base: str, who: tuple[str, str, str]) -> Client:
    client = Client(base)
    response = client.login(who[0], who[2])
    assert response.status == 303, response.body
    return client


def record_file(camera: str, source: Path, *options: str) -> str:
    """A whole file through the real ``bwv camera`` (as fast as it goes): its recording id."""
    result = bwv("camera", "--source", str(source), "--camera-id", camera, "--quiet", *options)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[0]


def start_camera(camera: str, officer: str, *options: str) -> subprocess.Popen[str]:
    """A ``bwv camera`` left running, in its own session so that a signal reaches it alone."""
    return subprocess.Popen(
        [sys.executable, "-m", "bwv", "camera", "--camera-id", camera, "--officer", officer, "--quiet", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def start_walking_camera(camera: str, officer: str, seconds: int, walk_from: tuple[float, float]) -> subprocess.Popen[str]:
    """A live camera (test pattern and tone, real time, small frames) walking from a point: something to watch and map."""
    return start_camera(
        camera, officer, "--source", "testsrc", "--realtime", "--seconds", str(seconds),
        "--width", "320", "--height", "240", "--fps", "15", "--walk-from", f"{walk_from[0]},{walk_from[1]}",
    )


def stop_cameras(procs: Iterable[subprocess.Popen[str]]) -> None:
    """SIGTERM every camera first (each ends its recording), then reap them, killing one that hangs."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def live_recording_of(client: Client, camera: str) -> str | None:
    """The camera's newest recording once three of its segments are indexed (None before): live enough to watch."""
    found = client.get(f"/api/recordings?camera={camera}").json()["recordings"]
    return found[0]["recording_id"] if found and found[0]["segment_count"] >= 3 else None


def open_page(browser: Any, room: ControlRoom, height: int) -> Any:
    """A fresh browser context (no cookies) on the control room, with the tests' default timeout."""
    context = browser.new_context(viewport={"width": 1280, "height": height}, base_url=room.url)
    page = context.new_page()
    page.set_default_timeout(20 * MS)
    return page


def browser_login(page: Any, room: ControlRoom, who: tuple[str, str, str], path: str = "/") -> None:
    """Through the login form, as an operator does: asking for ``path`` and landing on it."""
    page.goto(room.url + path)
    page.fill("#name", who[0])
    page.fill("#password", who[2])
    page.click("#login-button")
    page.wait_for_url(room.url + path)
