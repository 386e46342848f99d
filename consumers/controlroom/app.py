"""The control room's aiohttp application, and ``serve`` for ``bwv control-room``.

aiohttp because the workers already depend on it (through Faust) and its
streaming responses make server-sent events plain; Jinja2 for the few pages;
the browser side is vanilla JavaScript served from ``static/`` — nothing is
loaded from anywhere else at run time (the Content-Security-Policy says so).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

from aiohttp import web

from bwv.settings import Settings
from consumers.controlroom import actions, auth, events, views
from consumers.controlroom.audit import AuditLog
from consumers.controlroom.context import CONTEXT, Context
from consumers.controlroom.live import LiveState
from consumers.controlroom.media import VideoCache
from consumers.controlroom.render import environment
from consumers.controlroom.sessions import SessionSigner
from consumers.controlroom.users import UserStore
from streams.objectstore import ObjectStore

log = logging.getLogger(__name__)

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(_SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(_SECURITY_HEADERS)
    return response


def build_context(settings: Settings, refresh_interval: float = 0.5) -> Context:
    executor = ThreadPoolExecutor(max(4, settings.s3_threads), thread_name_prefix="controlroom")
    store = ObjectStore(settings)
    secret = settings.control_room_secret.get_secret_value().encode() if settings.control_room_secret else None
    if secret is None:
        log.warning("BWV_CONTROL_ROOM_SECRET is not set: sessions are signed with a random key and end on restart")
    return Context(
        settings=settings,
        users=UserStore(settings.control_room_users),
        signer=SessionSigner(secret, settings.control_room_session_hours * 3600),
        live=LiveState(settings, interval=refresh_interval),
        store=store,
        executor=executor,
        videos=VideoCache(store, executor),
        audit=AuditLog(settings, executor),
        templates=environment(),
    )


def make_app(settings: Settings, context: Context | None = None) -> web.Application:
    ctx = context or build_context(settings)
    app = web.Application(middlewares=[security_headers])
    app[CONTEXT] = ctx
    auth.install(app)  # first: the gate stands in front of every route below
    views.install(app)
    actions.install(app)
    events.install(app)
    app.router.add_static("/static/", str(resources.files("consumers.controlroom") / "static"))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await ctx.live.start()
        yield
        await ctx.live.stop()
        ctx.videos.close()
        ctx.executor.shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(lifecycle)
    return app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run until SIGINT/SIGTERM."""
    host = host or settings.control_room_host
    port = settings.control_room_port if port is None else port
    users = UserStore(settings.control_room_users)
    if not users.all():
        log.warning("no operators in %s: add one with `bwv control-room add-user NAME --role supervisor`",
                    settings.control_room_users)
    web.run_app(
        make_app(settings),
        host=host,
        port=port,
        print=lambda _: print(f"control room on http://{host}:{port} (users: {settings.control_room_users})", flush=True),
        access_log_format='%a "%r" %s %b %Tfs',
        shutdown_timeout=5,
    )
