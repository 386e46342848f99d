"""Control-room access: password hashing, the users file, roles, signed expiring sessions, the gate."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from bwv.settings import Settings
from consumers.controlroom.auth import COOKIE, LoginThrottle, _safe_next
from consumers.controlroom.sessions import SessionSigner
from consumers.controlroom.users import Role, UserError, UserStore

# Cheap parameters: these tests check behaviour, not the cost of a guess.
FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    return UserStore(tmp_path / "users.json", hasher=FAST)


# --- users and passwords --------------------------------------------------------------------


def test_passwords_are_stored_as_argon2_hashes_in_a_private_file(store: UserStore) -> None:
    store.add("ann", Role.supervisor, "correct horse")
    raw = store.path.read_text()
    assert "correct horse" not in raw
    entry = json.loads(raw)["users"]["ann"]
    assert entry["role"] == "supervisor" and entry["password_hash"].startswith("$argon2id$")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_authenticate_accepts_only_the_right_password(store: UserStore) -> None:
    store.add("ann", "viewer", "correct horse")
    assert store.authenticate("ann", "correct horse") is not None
    assert store.authenticate("ann", "Correct horse") is None
    assert store.authenticate("bob", "correct horse") is None  # unknown name: same answer
    assert store.authenticate("ann", "") is None


def test_add_refuses_duplicates_bad_names_and_short_passwords(store: UserStore) -> None:
    store.add("ann", "viewer", "correct horse")
    with pytest.raises(UserError, match="exists"):
        store.add("ann", "viewer", "another one")
    with pytest.raises(UserError, match="user name"):
        store.add("../etc", "viewer", "correct horse")
    with pytest.raises(UserError, match="at least 8"):
        store.add("bob", "viewer", "short")
    with pytest.raises(ValueError):
        store.add("bob", "admin", "correct horse")


def test_replace_changes_role_and_password(store: UserStore) -> None:
    old = store.add("ann", "viewer", "correct horse")
    new = store.add("ann", "supervisor", "battery staple", replace=True)
    assert new.role is Role.supervisor and new.password_tag != old.password_tag
    assert store.authenticate("ann", "correct horse") is None
    assert store.authenticate("ann", "battery staple") is not None


def test_a_change_on_disk_is_seen_without_restart(store: UserStore, tmp_path: Path) -> None:
    store.add("ann", "viewer", "correct horse")
    assert store.get("bob") is None
    UserStore(store.path, hasher=FAST).add("bob", "supervisor", "correct horse")  # another process, say the CLI
    assert store.get("bob") is not None
    UserStore(store.path, hasher=FAST).remove("ann")
    assert store.get("ann") is None


def test_roles() -> None:
    assert Role.supervisor.allows(Role.supervisor) and Role.supervisor.allows(Role.viewer)
    assert Role.viewer.allows(Role.viewer) and not Role.viewer.allows(Role.supervisor)


# --- sessions ----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_token_round_trips_and_expires() -> None:
    clock = Clock()
    signer = SessionSigner(b"k" * 32, lifetime_seconds=8 * 3600, clock=clock)
    token, session = signer.issue("ann", "tag")
    assert signer.read(token) == session
    clock.now += 8 * 3600 - 1
    assert signer.read(token) is not None
    clock.now += 1
    assert signer.read(token) is None  # expired: refused, whatever the cookie's own max-age


def test_a_forged_or_foreign_token_is_refused() -> None:
    signer = SessionSigner(b"k" * 32, 3600)
    token, _ = signer.issue("viewer-ann", "tag")
    payload, signature = token.split(".")
    forged_payload = payload[:-1] + ("A" if payload[-1] != "A" else "B")  # any edit of the payload
    assert signer.read(f"{forged_payload}.{signature}") is None
    assert signer.read(token + "x") is None
    assert signer.read("garbage") is None and signer.read(None) is None and signer.read("") is None
    other = SessionSigner(b"o" * 32, 3600)  # another secret
    assert other.read(token) is None
    same_secret = SessionSigner(b"k" * 32, 3600)  # a replica with the same secret accepts it
    assert same_secret.read(token) is not None


def test_logout_revokes_the_token() -> None:
    signer = SessionSigner(None, 3600)
    token, session = signer.issue("ann", "tag")
    signer.revoke(session)
    assert signer.read(token) is None


def test_login_throttle() -> None:
    throttle = LoginThrottle(limit=3, window=60)
    for t in range(3):
        assert throttle.blocked_for("ann", t) == 0
        throttle.failed("ann", t)
    assert throttle.blocked_for("ann", 10) > 0 and throttle.blocked_for("bob", 10) == 0
    assert throttle.blocked_for("ann", 61) == 0  # the first failure left the window


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil", "", None, "relative"])
def test_after_login_only_local_paths(target: str | None) -> None:
    assert _safe_next(target) == "/"


def test_after_login_a_local_path_is_kept() -> None:
    assert _safe_next("/recordings?camera=cam-1") == "/recordings?camera=cam-1"


# --- the gate, in a real aiohttp server (no broker needed for these routes) -----------------------


def _app(tmp_path: Path, clock: Clock):  # type: ignore[no-untyped-def]
    from consumers.controlroom.app import build_context, make_app

    settings = Settings(
        kafka_bootstrap="127.0.0.1:9",  # nothing listens: these routes never read topics
        control_room_users=tmp_path / "users.json",
        control_room_session_hours=1,
    )
    ctx = build_context(settings, refresh_interval=60)
    ctx.users.hasher = FAST
    ctx.users.add("sup", "supervisor", "supervisor-pw")
    ctx.users.add("view", "viewer", "viewer-pw")
    ctx.signer.clock = clock
    return make_app(settings, ctx), ctx


def test_gate_login_roles_and_expiry(tmp_path: Path) -> None:
    clock = Clock()

    async def scenario() -> None:
        app, ctx = _app(tmp_path, clock)
        async with TestClient(TestServer(app)) as client:
            # Not logged in: pages go to the login page, everything else is a bare 401.
            r = await client.get("/", allow_redirects=False)
            assert r.status == 303 and r.headers["Location"].startswith("/login?next=")
            for path in ("/api/me", "/api/state", "/events", "/media/recordings/r/video.mp4", "/media/recordings/r/thumbnails/0.jpg"):
                r = await client.get(path)
                assert r.status == 401, path
                assert (await r.json()) == {"error": "not logged in"}
            assert (await client.post("/api/recordings/r/mark", json={})).status == 401
            assert (await client.get("/login")).status == 200
            assert (await client.get("/static/app.css")).status == 200

            # A wrong password is refused; the right one sets a strict, HttpOnly cookie.
            r = await client.post("/login", data={"name": "view", "password": "nope", "next": "/"}, allow_redirects=False)
            assert r.status == 401
            r = await client.post("/login", data={"name": "view", "password": "viewer-pw", "next": "/recordings"}, allow_redirects=False)
            assert r.status == 303 and r.headers["Location"] == "/recordings"
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=3600" in cookie
            me = await (await client.get("/api/me")).json()
            assert me["name"] == "view" and me["role"] == "viewer"

            # The event stream opens with a snapshot (here: no broker, so it says why there is no data).
            events = await client.get("/events")
            assert events.headers["Content-Type"] == "text/event-stream"
            seen = b""
            while b"event: snapshot" not in seen:
                seen += await asyncio.wait_for(events.content.readany(), 30)
            assert b'"cameras":[]' in seen
            events.close()

            # A viewer's actions are refused on the server, whatever the page shows.
            for action in ("mark", "release", "export"):
                r = await client.post(f"/api/recordings/r/{action}", json={"reason": "x"})
                assert r.status == 403, action
            assert (await client.post("/api/alerts/ack", json={"dedup_key": "k", "at": "t"})).status == 403

            # A request from another site is refused even with the cookie.
            r = await client.post("/logout", headers={"Origin": "http://evil.example"}, allow_redirects=False)
            assert r.status == 403

            # The session expires on the server's clock.
            clock.now += 3600
            assert (await client.get("/api/me")).status == 401

            # A supervisor passes the role check (the export itself then wants a reason).
            await client.post("/login", data={"name": "sup", "password": "supervisor-pw"}, allow_redirects=False)
            r = await client.post("/api/recordings/r/export", json={})
            assert r.status == 400 and "reason" in (await r.json())["error"]

            # Changing the password ends the sessions made with the old one.
            ctx.users.add("sup", "supervisor", "a new password", replace=True)
            assert (await client.get("/api/me")).status == 401

            # Logging out ends the session at once.
            await client.post("/login", data={"name": "sup", "password": "a new password"}, allow_redirects=False)
            token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
            r = await client.post("/logout", allow_redirects=False)
            assert r.status == 303
            assert ctx.signer.read(token) is None

    asyncio.run(scenario())
