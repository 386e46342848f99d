"""The control room's aiohttp application, and ``serve`` for ``bwv control-room``.

aiohttp because the workers already depend on it (through Faust) and its
streaming responses make server-sent events plain; Jinja2 for the few pages;
the browser side is vanilla JavaScript served from ``static/``, with hls.js
and Leaflet vendored in ``static/vendor/`` — nothing is loaded from anywhere
else at run time but the map tiles of ``BWV_MAP_TILE_URL``, if set (the
Content-Security-Policy says so).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

from bwv.settings import Settings
from consumers.controlroom import actions, auth, events, views, watch
from consumers.controlroom.audit import AuditLog
from consumers.controlroom.context import CONTEXT, Context
from consumers.controlroom.live import LiveState
from consumers.controlroom.media import VideoCache
from consumers.controlroom.metrics import ControlRoomMetrics
from consumers.controlroom.render import environment
from consumers.controlroom.segment_cache import SegmentCache
from consumers.controlroom.sessions import SessionSigner
from consumers.controlroom.users import UserStore
from streams.objectstore import ObjectStore

log = logging.getLogger(__name__)

def _tile_source(template: str) -> str:
    """The CSP source that admits the map tiles of BWV_MAP_TILE_URL ('' for none): scheme and host, {s} as *."""
    if not template:
        return ""
    parts = urlsplit(template)
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    return f"{parts.scheme}://{host}"


def security_headers_for(settings: Settings) -> dict[str, str]:
    """Nothing from elsewhere but the map tiles, if configured. blob: for media and workers is hls.js:
    it feeds the video element through a MediaSource (a blob: URL) and demuxes in a Web Worker made from one."""
    tiles = _tile_source(settings.map_tile_url)
    return {
        "Content-Security-Policy": f"default-src 'self'; img-src 'self' data:{' ' + tiles if tiles else ''}; "
        "media-src 'self' blob:; worker-src blob:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


SECURITY_HEADERS = web.AppKey("security-headers", dict)


@web.middleware
async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
    headers = request.app[SECURITY_HEADERS]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    if not response.prepared:
        response.headers.update(headers)
    return response


def build_context(settings: Settings, refresh_interval: float = 0.5) -> Context:
    executor = ThreadPoolExecutor(max(4, settings.s3_threads), thread_name_prefix="controlroom")
    store = ObjectStore(settings)
    secret = settings.control_room_secret.get_secret_value().encode() if settings.control_room_secret else None
    if secret is None:
        log.warning("BWV_CONTROL_ROOM_SECRET is not set: sessions are signed with a random key and end on restart")
    metrics = ControlRoomMetrics()
    segments = SegmentCache(
        store,
        executor,
        settings.control_room_cache_bytes,
        on_s3=lambda op: metrics.s3_requests.labels(op).inc(),
        on_lookup=lambda hit: metrics.segment_lookups.labels("hit" if hit else "miss").inc(),
    )
    metrics.segment_cache_bytes.set_function(lambda: segments.bytes)
    return Context(
        settings=settings,
        users=UserStore(settings.control_room_users),
        signer=SessionSigner(secret, settings.control_room_session_hours * 3600),
        live=LiveState(settings, interval=refresh_interval),
        store=store,
        executor=executor,
        videos=VideoCache(store, executor, on_remux=metrics.remux_seconds.observe),
        audit=AuditLog(settings, executor, on_record=lambda kind: metrics.custody_events.labels(kind).inc()),
        templates=environment(),
        metrics=metrics,
        segments=segments,
    )


def make_app(settings: Settings, context: Context | None = None) -> web.Application:
    ctx = context or build_context(settings)
    app = web.Application(middlewares=[security_headers])
    app[CONTEXT] = ctx
    app[SECURITY_HEADERS] = security_headers_for(ctx.settings)
    auth.install(app)  # first: the gate stands in front of every route below
    views.install(app)
    watch.install(app)
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
    app = make_app(settings)
    app[CONTEXT].metrics.serve(settings.metrics_port, host)
    web.run_app(
        app,
        host=host,
        port=port,
        print=lambda _: print(f"control room on http://{host}:{port} (users: {settings.control_room_users})", flush=True),
        access_log_format='%a "%r" %s %b %Tfs',
        shutdown_timeout=5,
    )
