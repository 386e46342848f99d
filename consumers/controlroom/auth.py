"""Who may see what: the login page, the gate in front of everything else, role checks.

Without a valid session nothing is served but the login page and its static
files: pages redirect to the login page, and everything else — JSON,
thumbnails, video, the event stream — is a bare 401. Every state-changing
request must also come from the control room's own pages (the browser's
``Origin``; the cookie is ``SameSite=Strict`` as well), and every action
checks the operator's role on the server, whatever the page shows.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote, urlsplit

from aiohttp import web

from consumers.controlroom.context import SESSION, USER, context_of
from consumers.controlroom.render import render
from consumers.controlroom.sessions import Session
from consumers.controlroom.users import Role, User

COOKIE = "bwv_session"
_PUBLIC_PREFIXES = ("/static/",)
_PUBLIC_PATHS = ("/login",)
_DATA_PREFIXES = ("/api/", "/media/", "/events")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoginThrottle:
    """At most ``limit`` failed logins per name in ``window`` seconds; then wait."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def blocked_for(self, name: str, now: float) -> float:
        failures = self._failures.get(name)
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return self.window - (now - failures[0]) if failures and len(failures) >= self.limit else 0.0

    def failed(self, name: str, now: float) -> None:
        if len(self._failures) > 10_000:  # names guessed at random must not grow this without bound
            self._failures = defaultdict(deque, {n: f for n, f in self._failures.items() if f and now - f[-1] <= self.window})
        self._failures[name].append(now)

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)


THROTTLE = web.AppKey("login-throttle", LoginThrottle)


def current_user(request: web.Request) -> tuple[User, Session] | None:
    """The logged-in operator, if the cookie holds a valid session of a user who still exists."""
    ctx = context_of(request)
    session = ctx.signer.read(request.cookies.get(COOKIE))
    if session is None:
        return None
    user = ctx.users.get(session.user)
    if user is None or user.password_tag != session.password_tag:
        return None  # removed, or the password changed since this login
    return user, session


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        referer = request.headers.get("Referer")
        if referer is None:
            return origin is None  # a non-browser client (no Origin, no Referer): the cookie is what counts
        origin = referer
    return urlsplit(origin).netloc == request.host


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    found = current_user(request)
    if found is None:
        if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
            return await handler(request)
        if path.startswith(_DATA_PREFIXES) or request.method not in _SAFE_METHODS:
            return web.json_response({"error": "not logged in"}, status=401)
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
    request[USER], request[SESSION] = found
    if request.method not in _SAFE_METHODS and not _same_origin(request):
        return web.json_response({"error": "request from another site refused"}, status=403)
    return await handler(request)


def require(role: Role) -> Callable[[Handler], Handler]:
    """Refuse (403) an operator whose role does not allow the handler's action."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            user = request[USER]
            if not user.role.allows(role):
                return web.json_response({"error": f"only a {role.value} may do this; you are a {user.role.value}"}, status=403)
            return await handler(request)

        return checked

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_page(request: web.Request) -> web.StreamResponse:
    if current_user(request) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    return render(request, "login.html", next=_safe_next(request.query.get("next")), error=None)


async def login(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    throttle: LoginThrottle = request.app[THROTTLE]
    wait = throttle.blocked_for(name, time.monotonic())
    if wait > 0:
        ctx.metrics.logins.labels("throttled").inc()
        return render(request, "login.html", next=target, error=f"Too many failed attempts. Try again in {wait:.0f} s.", status=429)
    loop = asyncio.get_running_loop()
    user = await loop.run_in_executor(ctx.executor, ctx.users.authenticate, name, password)  # argon2: CPU-bound
    if user is None:
        ctx.metrics.logins.labels("failed").inc()
        throttle.failed(name, time.monotonic())
        return render(request, "login.html", next=target, error="Wrong name or password.", status=401)
    throttle.succeeded(name)
    ctx.metrics.logins.labels("ok").inc()
    token, _ = ctx.signer.issue(user.name, user.password_tag)
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ctx.signer.lifetime),
        path="/",
        httponly=True,
        samesite="Strict",
        # Behind a TLS-terminating ingress the request itself is plain HTTP: the header says so.
        secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    context_of(request).signer.revoke(request[SESSION])
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


def install(app: web.Application) -> None:
    app[THROTTLE] = LoginThrottle()
    app.middlewares.append(gate)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
