"""Control-room fixtures shared by the control-room modules (each module gets its own control room)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bwv.settings import Settings
from tests.helpers import WorkerProcess
from tests.integration.controlroom_support import CHROMIUM_ARGS, SUPERVISOR, VIEWER, Client, ControlRoom, logged_in, start_control_room


@pytest.fixture(scope="module")
def room(
    settings: Settings, worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ControlRoom]:
    """A real ``bwv control-room`` per module, so one module's logins, alerts and metrics do not leak into another's."""
    control_room = start_control_room(tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-room"))
    try:
        yield control_room
    finally:
        control_room.stop()


@pytest.fixture(scope="module")
def supervisor(room: ControlRoom) -> Client:
    """A supervisor logged in over HTTP (a browser module may override it with a logged-in page)."""
    return logged_in(room.url, SUPERVISOR)


@pytest.fixture(scope="module")
def viewer(room: ControlRoom) -> Client:
    """A viewer logged in over HTTP: may watch, may not act."""
    return logged_in(room.url, VIEWER)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, once per module (a launch costs seconds); modules importorskip Playwright first."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
