"""Helpers for control-room tests: a real ``bwv control-room`` process, operators, an HTTP client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bwv.stack import Child, free_port, wait_for_port

SUPERVISOR = ("sup-ann", "supervisor", "ann-correct-horse")
VIEWER = ("view-bob", "viewer", "bob-battery-staple")


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
