"""Watching footage in the browser: HLS playlists and segments, routes, the map page.

| request | answer |
|---|---|
| ``GET /map`` | the map page: live cameras where they are, kept current by ``/events`` |
| ``GET /media/recordings/{id}/live.m3u8?view=`` | the newest segments (``playlists.LIVE_WINDOW``): follow the camera live |
| ``GET /media/recordings/{id}/index.m3u8?view=`` | every segment: a whole recording (VOD once closed) |
| ``GET /media/recordings/{id}/segments/{seq}.ts`` | one stored segment, as stored (MPEG-TS) |
| ``GET /api/recordings/{id}/route`` | where the camera was, segment by segment (the headers' locations) |

A player's first playlist request puts a ``played`` custody event on the record
(detail ``live``), once per player (``view`` token, see ``audit``); nothing is
served if that cannot be recorded (503). Playlists are built from the
recording's stored segments (``SegmentCache``: listing at most 0.5 s old,
headers and bytes cached), so many viewers cost S3 what one does. Answers use
the index as the background refresh left it (at most ``interval`` old) rather
than catching the topics up for every reload of every player.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from consumers.controlroom import playlists
from consumers.controlroom.context import SESSION, USER, Context, context_of
from consumers.controlroom.render import render
from consumers.controlroom.segment_cache import SegmentCorrupt
from schemas.records import RecordingStateName, RecordingSummary
from streams.sender import SendError

log = logging.getLogger(__name__)

# A live player may ask for the next segment before it exists (LL-HLS blocking reload, ``_HLS_msn``):
# the answer waits for it, so the player learns of a segment as soon as it is listed instead of at
# its next reload, up to a second later. RFC 8216bis: wait at most three target durations.
BLOCK_SECONDS = 6.0
BLOCK_POLL_SECONDS = 0.1


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _summary(ctx: Context, recording_id: str) -> RecordingSummary | None:
    """The index's summary; the topics are caught up only for a recording not seen yet."""
    summary = ctx.live.index.recordings.get(recording_id)
    if summary is None:
        await ctx.live.refresh()
        summary = ctx.live.index.recordings.get(recording_id)
    return summary


def _ended(summary: RecordingSummary, listed: int) -> bool:
    """Closed (or quarantined) and every counted segment listed: the playlist may end."""
    return summary.state is not RecordingStateName.open and listed >= summary.segment_count


async def _playable(request: web.Request) -> RecordingSummary | web.Response:
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    summary = await _summary(ctx, recording_id)
    if summary is None:
        return _error(404, f"no recording {recording_id}")
    if summary.state is RecordingStateName.deleted:
        return _error(404, f"recording {recording_id} was deleted")
    return summary


# --- playlists ------------------------------------------------------------------------------


def _wanted(request: web.Request) -> int | None:
    """``_HLS_msn``: the media sequence number a player asks the playlist to wait for (blocking reload)."""
    value = request.query.get("_HLS_msn", "")
    return int(value) if value.isdigit() and len(value) < 10 else None


async def _listing(ctx: Context, summary: RecordingSummary, wait_for: int | None) -> tuple[RecordingSummary, list[int], bool]:
    """The recording's listing; with ``wait_for``, held until that media segment is listed, the
    recording ends, or ``BLOCK_SECONDS`` pass (then the playlist as it is: the player asks again)."""
    deadline = time.monotonic() + BLOCK_SECONDS
    while True:
        listed = await ctx.segments.sequences(summary.recording_id)
        ended = _ended(summary, len(listed))
        if wait_for is None or ended or len(playlists.usable(listed, ended)) > wait_for or time.monotonic() >= deadline:
            return summary, listed, ended
        await asyncio.sleep(BLOCK_POLL_SECONDS)  # the listing is shared by every waiting player (cached 0.5 s)
        summary = ctx.live.index.recordings.get(summary.recording_id, summary)


async def _playlist(request: web.Request, live: bool) -> web.StreamResponse:
    ctx = context_of(request)
    found = await _playable(request)
    if isinstance(found, web.Response):
        return found
    summary = found
    try:
        await ctx.audit.record_play(
            request[SESSION].nonce, request[USER].name, summary, live=live, view=request.query.get("view", "")
        )
    except SendError as exc:
        return _error(503, f"the playback could not be put on the custody record, so nothing is played: {exc}")
    try:
        summary, listed, ended = await _listing(ctx, summary, _wanted(request) if live else None)
        win = playlists.window(listed, ended=ended, last=playlists.LIVE_WINDOW if live else None)
        headers = await ctx.segments.headers(summary.recording_id, win.sequences)
    except Exception as exc:  # noqa: BLE001 - storage trouble: the player retries
        log.warning("playlist of %s: storage failed: %s", summary.recording_id, exc)
        return _error(503, f"the footage cannot be read from storage now ({type(exc).__name__})")
    entries = [
        playlists.Entry(h.sequence, (h.capture_end - h.capture_start).total_seconds(), h.capture_start)
        for h in headers
        if h is not None
    ]
    text = playlists.render(
        win, entries, ended=ended, whole=not live, block_reload=live, target_floor=ctx.settings.segment_seconds,
        url=lambda sequence: f"segments/{sequence:08d}.ts",
    )
    return web.Response(
        text=text, content_type=playlists.CONTENT_TYPE, headers={"Cache-Control": "private, no-store"}
    )


async def live_playlist(request: web.Request) -> web.StreamResponse:
    return await _playlist(request, live=True)


async def whole_playlist(request: web.Request) -> web.StreamResponse:
    return await _playlist(request, live=False)


async def segment(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    name = request.match_info["name"]
    stem = name.removesuffix(".ts")
    if not stem.isdigit() or len(stem) > 9 or stem == name:
        return _error(400, f"{name!r} is not <sequence>.ts")
    found = await _playable(request)
    if isinstance(found, web.Response):
        return found
    summary = found
    session = request[SESSION].nonce
    if not ctx.audit.has_played(session, summary.recording_id):
        # Asked for without a playlist (or from before a restart): the play goes on the record all the same.
        try:
            await ctx.audit.record_play(
                session, request[USER].name, summary, live=summary.state is RecordingStateName.open, view="segments"
            )
        except SendError as exc:
            return _error(503, f"the playback could not be put on the custody record, so nothing is played: {exc}")
    try:
        data = await ctx.segments.body(summary.recording_id, int(stem))
    except SegmentCorrupt as exc:
        log.error("%s", exc)
        return _error(422, f"{exc}; run the integrity check")
    except Exception as exc:  # noqa: BLE001
        log.warning("segment %s of %s: storage failed: %s", stem, summary.recording_id, exc)
        return _error(503, f"the footage cannot be read from storage now ({type(exc).__name__})")
    if data is None:
        return _error(404, f"no segment {int(stem)} of {summary.recording_id}")
    # A segment's key names bytes that never change: the browser may keep them.
    return web.Response(body=data, content_type="video/mp2t", headers={"Cache-Control": "private, max-age=86400, immutable"})


# --- where the camera was -------------------------------------------------------------------


async def route(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    found = await _playable(request)
    if isinstance(found, web.Response):
        return found
    summary = found
    try:
        listed = await ctx.segments.sequences(summary.recording_id)
        headers = await ctx.segments.headers(summary.recording_id, listed)
    except Exception as exc:  # noqa: BLE001
        log.warning("route of %s: storage failed: %s", summary.recording_id, exc)
        return _error(503, f"the footage cannot be read from storage now ({type(exc).__name__})")
    points: list[dict[str, Any]] = [
        {
            "sequence": h.sequence,
            "lat": h.location.lat,
            "lon": h.location.lon,
            "accuracy_m": h.location.accuracy_m,
            "at": h.location.at.isoformat(),
        }
        for h in headers
        if h is not None and h.location is not None
    ]
    return web.json_response({"recording_id": summary.recording_id, "segments": len(listed), "points": points})


# --- the map --------------------------------------------------------------------------------


async def map_page(request: web.Request) -> web.StreamResponse:
    return render(request, "map.html", page="map")


def install(app: web.Application) -> None:
    r = app.router
    r.add_get("/map", map_page)
    r.add_get("/media/recordings/{recording_id}/live.m3u8", live_playlist)
    r.add_get("/media/recordings/{recording_id}/index.m3u8", whole_playlist)
    r.add_get("/media/recordings/{recording_id}/segments/{name}", segment)
    r.add_get("/api/recordings/{recording_id}/route", route)
