"""``GET /events``: server-sent events, so pages change without reloading.

A stream starts with a ``snapshot`` (every camera tile and every open alert),
then sends each change as it is seen:

| event | data |
|---|---|
| ``snapshot`` | ``{cameras: [tile], alerts: [alert], error}`` |
| ``camera`` | one camera tile (CameraStatus + ``thumbnail_url``) |
| ``camera_removed`` | ``{camera_id}`` |
| ``alert`` | one alert with its acknowledgement (raised or cleared) |
| ``recording`` | one recording summary (+ ``thumbnail_url``) that changed |
| ``status`` | ``{error}``: the topics cannot be read (or can again, ``error: null``) |
| ``session_ended`` | the login expired or was revoked; the page goes to the login page |

A browser that falls too far behind is sent a fresh snapshot instead of the
backlog. The stream ends when the session does, so an expired login stops
receiving anything at once, not at its next request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from consumers.controlroom.auth import current_user
from consumers.controlroom.context import SESSION, context_of

KEEPALIVE_SECONDS = 15.0


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    session = request[SESSION]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    sub = ctx.live.hub.subscribe()  # before the snapshot, so no change falls between the two
    ctx.metrics.event_streams.inc()
    try:
        await response.write(b"retry: 2000\n\n")
        try:
            await ctx.live.refresh()
        except Exception:  # noqa: BLE001 - the snapshot says what is wrong (live.error)
            pass
        await response.write(_frame("snapshot", ctx.live.snapshot()))
        while True:
            found = current_user(request)
            if found is None or found[1].nonce != session.nonce:
                await response.write(_frame("session_ended", {"reason": "your login expired or was ended"}))
                break
            if sub.overflowed:
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                sub.overflowed = False
                await response.write(_frame("snapshot", ctx.live.snapshot()))
            wait = max(0.1, min(KEEPALIVE_SECONDS, session.expires_at - ctx.signer.clock()))
            try:
                event, data = await asyncio.wait_for(sub.queue.get(), timeout=wait)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            await response.write(_frame(event, data))
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        ctx.live.hub.unsubscribe(sub)
        ctx.metrics.event_streams.dec()
    return response


def install(app: web.Application) -> None:
    app.router.add_get("/events", events)
