"""The query API on every worker's web port (Faust web views), over the read model.

    GET /api/cameras[?state=recording|silent|idle]
    GET /api/recordings[?camera=&officer=&since=&until=]     (ISO 8601; naive = UTC)
    GET /api/recordings/{id}                                  summary, segments, thumbnail URLs
    GET /api/recordings/{id}/thumbnails/{sequence}.jpg        the JPEG (stored, or cut now)

Every answer first catches the read model up to the topics' ends, so each worker
answers the same. Bad parameters get a 400 with the reason, never a traceback.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any

import faust
from faust.web import Request, Response, View

from streams.objectstore import ObjectStore
from streams.readmodel import IndexView
from streams.thumbnailer import list_segments, load_thumbnail

class BadQuery(ValueError):
    pass


def parse_time(name: str, value: str | None) -> datetime | None:
    """ISO 8601 date or time; a time without zone is UTC."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # type: ignore[union-attr]
    except ValueError:
        raise BadQuery(f"{name}: {value!r} is not an ISO 8601 time (e.g. 2026-11-28T09:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def recording_detail(store: ObjectStore, recording_id: str, base_url: str = "") -> dict[str, Any]:
    """Segments of a recording, from storage, each with its thumbnail URL (blocking: run it in a thread).

    Every segment has a URL: the ones cut as they were stored say
    ``thumbnail_stored``, the others are cut when asked for.
    """
    segments = [
        {
            "sequence": s.sequence,
            "key": s.key,
            "bytes": s.size,
            "thumbnail_url": f"{base_url}/api/recordings/{recording_id}/thumbnails/{s.sequence}.jpg",
            "thumbnail_stored": s.thumbnail_stored,
        }
        for s in list_segments(store, recording_id)
    ]
    return {"segments": segments}


def install(app: faust.App, view: IndexView, store: ObjectStore, executor: Executor, thumbnail_width: int) -> None:
    """Register the API's pages on the worker's web server."""

    async def answer(web: View, work: Any) -> Response:
        try:
            await view.catch_up()
            return await work()
        except BadQuery as exc:
            return web.json({"error": str(exc)}, status=400)

    @app.page("/api/cameras")
    async def cameras(web: View, request: Request) -> Response:
        async def work() -> Response:
            state = request.query.get("state")
            return web.json({"cameras": [c.model_dump(mode="json") for c in view.camera_list(state)]})

        return await answer(web, work)

    @app.page("/api/recordings")
    async def recordings(web: View, request: Request) -> Response:
        async def work() -> Response:
            q = request.query
            found = view.find_recordings(
                camera=q.get("camera") or None,
                officer=q.get("officer") or None,
                since=parse_time("since", q.get("since")),
                until=parse_time("until", q.get("until")),
            )
            return web.json({"recordings": [r.model_dump(mode="json") for r in found]})

        return await answer(web, work)

    @app.page("/api/recordings/{recording_id}")
    async def recording(web: View, request: Request, recording_id: str) -> Response:
        async def work() -> Response:
            summary = view.recordings.get(recording_id)
            if summary is None:
                return web.json({"error": f"no recording {recording_id}"}, status=404)
            loop = asyncio.get_running_loop()
            detail = await loop.run_in_executor(executor, recording_detail, store, recording_id)
            return web.json({"recording": summary.model_dump(mode="json"), **detail})

        return await answer(web, work)

    @app.page("/api/recordings/{recording_id}/thumbnails/{name}")
    async def thumbnail(web: View, request: Request, recording_id: str, name: str) -> Response:
        stem = name.removesuffix(".jpg")
        if not stem.isdigit():
            return web.json({"error": f"{name!r} is not <sequence>.jpg"}, status=400)
        sequence = int(stem)
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(executor, load_thumbnail, store, recording_id, sequence, thumbnail_width)
        if data is None:
            return web.json({"error": f"no picture for segment {sequence} of recording {recording_id}"}, status=404)
        return web.bytes(data, content_type="image/jpeg")
