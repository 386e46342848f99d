"""Pages, the JSON they fetch, and the footage they show.

| request | answer |
|---|---|
| ``GET /`` | the live wall (tiles and alerts; kept current by ``/events``) |
| ``GET /recordings`` | the recording search page |
| ``GET /recordings/{id}`` | one recording: player, thumbnails, metadata, integrity, retention, actions |
| ``GET /api/me`` | the operator, role, session expiry and the server's clock |
| ``GET /api/state`` | cameras and open alerts (what ``/events`` sends first) |
| ``GET /api/recordings?camera=&officer=&since=&until=`` | summaries overlapping the window, newest first |
| ``GET /api/recordings/{id}`` | summary and stored segments with thumbnail URLs; a ``viewed`` custody event |
| ``GET /api/recordings/{id}/integrity`` | ``verify_recording`` run now: verified, or the first problem |
| ``GET /media/recordings/{id}/thumbnails/{seq}.jpg`` | a thumbnail |
| ``GET /media/recordings/{id}/video.mp4`` | the recording remuxed to MP4 (range requests served); a ``played`` custody event |

Every answer catches the topics up first. Footage is served only after its
view or play is on the custody record: if that cannot be recorded, nothing is
shown (503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from aiohttp import web

from consumers.controlroom.context import SESSION, USER, Context, context_of
from consumers.controlroom.live import recording_json
from consumers.controlroom.media import list_segments
from consumers.controlroom.render import render
from consumers.remux import RemuxError
from consumers.published import published_keys
from consumers.verify import VerifyReport, verify_recording
from schemas.records import RecordingStateName, RecordingSummary
from streams.sender import SendError
from streams.thumbnailer import load_thumbnail

log = logging.getLogger(__name__)

SEARCH_LIMIT = 500
_VERIFY_CONCURRENCY = 2


class BadQuery(ValueError):
    pass


def parse_time(name: str, value: str | None) -> datetime | None:
    """ISO 8601 date or time; without a zone it is UTC (as the form says)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"{name}: {value!r} is not an ISO 8601 time (e.g. 2026-11-28T09:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _summary(ctx: Context, recording_id: str) -> RecordingSummary | None:
    await ctx.live.refresh()
    return ctx.live.index.recordings.get(recording_id)


def _session_id(request: web.Request) -> str:
    return request[SESSION].nonce


# --- pages ----------------------------------------------------------------------------------


async def wall_page(request: web.Request) -> web.StreamResponse:
    return render(request, "wall.html", page="wall")


async def recordings_page(request: web.Request) -> web.StreamResponse:
    return render(request, "recordings.html", page="recordings", query=dict(request.query))


async def recording_page(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    summary = await _summary(ctx, recording_id)
    if summary is None:
        return render(request, "missing.html", page="recordings", recording_id=recording_id, status=404)
    return render(
        request,
        "recording.html",
        page="recordings",
        recording_id=recording_id,
        categories=sorted(ctx.settings.retention_categories),
    )


# --- JSON -----------------------------------------------------------------------------------


async def me(request: web.Request) -> web.StreamResponse:
    user, session = request[USER], request[SESSION]
    return web.json_response(
        {
            "name": user.name,
            "role": user.role.value,
            "expires_at": datetime.fromtimestamp(session.expires_at, timezone.utc).isoformat(),
            # The player measures how far behind capture it is against this clock, not the browser's.
            "server_time": time.time(),
        }
    )


async def state(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    await ctx.live.refresh()
    return web.json_response(ctx.live.snapshot())


async def search(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    q = request.query
    try:
        since, until = parse_time("since", q.get("since")), parse_time("until", q.get("until"))
    except BadQuery as exc:
        return _error(400, str(exc))
    await ctx.live.refresh()
    found = ctx.live.index.find_recordings(
        camera=q.get("camera", "").strip() or None,
        officer=q.get("officer", "").strip() or None,
        since=since,
        until=until,
    )
    return web.json_response(
        {"recordings": [recording_json(r) for r in found[:SEARCH_LIMIT]], "total": len(found), "limit": SEARCH_LIMIT}
    )


async def recording_detail(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    summary = await _summary(ctx, recording_id)
    if summary is None:
        return _error(404, f"no recording {recording_id}")
    try:
        await ctx.audit.record_once("viewed", _session_id(request), request[USER].name, summary, detail={"live": False})
    except SendError as exc:
        return _error(503, f"the view could not be put on the custody record, so nothing is shown: {exc}")
    loop = asyncio.get_running_loop()
    segments = await loop.run_in_executor(ctx.executor, list_segments, ctx.store, recording_id)
    return web.json_response({"recording": recording_json(summary), "segments": segments})


def _verify(ctx: Context, summary: RecordingSummary) -> VerifyReport:
    """As ``bwv verify`` does: hashes, chain, completeness, and the seal against the published keys."""
    return verify_recording(
        ctx.store,
        summary.recording_id,
        threads=4,
        trusted_keys=published_keys(ctx.settings),
        expect_sealed=summary.sealed_segment_count is not None,
        recording_open=summary.closed_reason is None,
    )


async def integrity(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    summary = await _summary(ctx, recording_id)
    if summary is None:
        return _error(404, f"no recording {recording_id}")
    if summary.state is RecordingStateName.deleted:
        return web.json_response({"ok": False, "state": "deleted", "summary": "the footage was deleted (retention)"})
    started = time.monotonic()
    async with request.app[VERIFY_SLOTS]:
        loop = asyncio.get_running_loop()
        try:
            report = await loop.run_in_executor(ctx.executor, _verify, ctx, summary)
        except Exception as exc:  # noqa: BLE001 - storage trouble is not a verdict on the footage
            log.warning("verifying %s failed: %s", recording_id, exc)
            return _error(503, f"storage cannot be read now ({type(exc).__name__}); try again")
    problem = report.problem
    seal = report.seal
    return web.json_response(
        {
            "ok": report.ok,
            "state": "verified" if report.ok else ("empty" if report.segments == 0 and problem is None else "failed"),
            "summary": report.summary(),
            "segments": report.segments,
            "bytes": report.bytes,
            "seconds": round(report.seconds, 3),
            "chain_head": report.chain_head,
            "chain_head_matches_index": bool(report.chain_head) and report.chain_head == summary.chain_head,
            "sealed": {"key_id": seal.key_id, "segment_count": seal.segment_count, "sealed_at": seal.sealed_at.isoformat()} if seal else None,
            "problem": {"sequence": problem.sequence, "kind": problem.kind, "detail": problem.detail} if problem else None,
            "took_seconds": round(time.monotonic() - started, 3),
        }
    )


# --- footage --------------------------------------------------------------------------------


async def thumbnail(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    recording_id, name = request.match_info["recording_id"], request.match_info["name"]
    stem = name.removesuffix(".jpg")
    if not stem.isdigit() or len(stem) > 9:
        return _error(400, f"{name!r} is not <sequence>.jpg")
    if recording_id not in ctx.live.index.recordings and await _summary(ctx, recording_id) is None:
        return _error(404, f"no recording {recording_id}")
    loop = asyncio.get_running_loop()
    width = ctx.settings.thumbnail_width
    data = await loop.run_in_executor(ctx.executor, load_thumbnail, ctx.store, recording_id, int(stem), width)
    if data is None:
        return _error(404, f"no picture for segment {int(stem)} of {recording_id}")
    # A thumbnail's key names one segment's first picture and never changes.
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


def _is_first_request(request: web.Request) -> bool:
    """A player's first request for the video (no range, or one from the start), not a seek."""
    ranges = request.headers.get("Range", "")
    return not ranges or ranges.replace(" ", "") in ("bytes=0-", "bytes=0-1")


async def video(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    summary = await _summary(ctx, recording_id)
    if summary is None:
        return _error(404, f"no recording {recording_id}")
    if summary.state is RecordingStateName.deleted or summary.segment_count == 0:
        return _error(404, f"recording {recording_id} has no stored footage")
    if _is_first_request(request):
        try:
            await ctx.audit.record_once("played", _session_id(request), request[USER].name, summary, detail={"live": False})
        except SendError as exc:
            return _error(503, f"the playback could not be put on the custody record, so nothing is played: {exc}")
    try:
        playable = await ctx.videos.mp4(summary)
    except RemuxError as exc:
        return _error(422, f"the stored segments cannot be played: {exc}")
    except Exception as exc:  # noqa: BLE001 - storage trouble: say so, the page shows it
        log.warning("remuxing %s failed: %s", recording_id, exc)
        return _error(503, f"the footage cannot be read from storage now ({type(exc).__name__})")
    return web.FileResponse(
        playable.path,
        headers={"Content-Type": "video/mp4", "Cache-Control": "private, no-store"},
    )


VERIFY_SLOTS = web.AppKey("verify-slots", asyncio.Semaphore)


def install(app: web.Application) -> None:
    app[VERIFY_SLOTS] = asyncio.Semaphore(_VERIFY_CONCURRENCY)
    r = app.router
    r.add_get("/", wall_page)
    r.add_get("/recordings", recordings_page)
    r.add_get("/recordings/{recording_id}", recording_page)
    r.add_get("/api/me", me)
    r.add_get("/api/state", state)
    r.add_get("/api/recordings", search)
    r.add_get("/api/recordings/{recording_id}", recording_detail)
    r.add_get("/api/recordings/{recording_id}/integrity", integrity)
    r.add_get("/media/recordings/{recording_id}/thumbnails/{name}", thumbnail)
    r.add_get("/media/recordings/{recording_id}/video.mp4", video)
