"""What a supervisor does: mark or release evidence, export, acknowledge an alert.

| request | role | what happens |
|---|---|---|
| ``POST /api/recordings/{id}/mark`` ``{reason, category}`` | supervisor | an EvidenceCommand through ``streams.commands``, waited for until a worker applied it |
| ``POST /api/recordings/{id}/release`` ``{reason}`` | supervisor | the same, releasing the hold |
| ``POST /api/recordings/{id}/export`` ``{reason}`` | supervisor | ``bwv export`` in a thread (an ``exported`` custody event); answers a download link |
| ``GET /api/exports/{name}`` | supervisor | the bundle, for an hour |
| ``POST /api/alerts/ack`` ``{dedup_key, at, note}`` | supervisor | an ``alert_acknowledged`` custody event |

Marks and releases take exactly the CLI's path (``build_command`` checks the
action against the recording and settings, ``apply_and_wait`` sends it on
``bwv.commands`` and watches the recording's summary until the worker has
applied it), so the worker records them in the custody log with the operator's
name. An answer of 202 means the command is on the bus but no worker applied
it in time: it will be applied when one does, and the page updates then.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from consumers.controlroom.alerts import Acknowledgement, raise_id
from consumers.controlroom.audit import ALERT_ACKNOWLEDGED
from consumers.controlroom.auth import require
from consumers.controlroom.context import USER, context_of
from consumers.controlroom.live import recording_json
from consumers.controlroom.users import Role
from bwv.settings import Settings
from consumers.export import ExportError, export_bundle
from consumers.remux import RemuxError
from schemas.records import EvidenceAction
from streams.commands import CommandError, apply_and_wait, build_command
from streams.sender import SendError

APPLY_TIMEOUT = 30.0  # seconds to wait for a worker to apply a command before answering 202
EXPORT_KEEP_SECONDS = 3600  # an export stays downloadable this long


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _counted(request: web.Request, action: str, response: web.Response) -> web.Response:
    result = {200: "applied", 202: "sent", 503: "failed"}.get(response.status, "refused")
    context_of(request).metrics.actions.labels(action, result).inc()
    return response


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "the body must be JSON"}', content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "the body must be a JSON object"}', content_type="application/json")
    return body


async def _evidence(request: web.Request, action: EvidenceAction) -> web.Response:
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    body = await _body(request)
    await ctx.live.refresh()
    summary = ctx.live.index.recordings.get(recording_id)
    if summary is None:
        return _error(404, f"no recording {recording_id}")
    try:
        command = build_command(
            ctx.settings,
            summary,
            action,
            by=request[USER].name,
            reason=str(body.get("reason") or ""),
            category=str(body["category"]) if body.get("category") else None,
        )
    except CommandError as exc:
        return _error(400, str(exc))
    except ValidationError as exc:
        return _error(400, f"{exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    try:
        applied = await apply_and_wait(ctx.settings, ctx.live.index, command, timeout=APPLY_TIMEOUT)
    except SendError as exc:
        return _error(503, str(exc))
    if applied is None:
        return web.json_response(
            {
                "status": "sent",
                "command_id": command.command_id,
                "message": f"sent; no worker applied it within {APPLY_TIMEOUT:.0f} s. It stays on bwv.commands and is "
                "applied when a worker takes it; this page updates then.",
            },
            status=202,
        )
    await ctx.live.refresh()  # everyone's pages hear of it now
    return web.json_response({"status": "applied", "command_id": command.command_id, "recording": recording_json(applied)})


@require(Role.supervisor)
async def mark(request: web.Request) -> web.StreamResponse:
    return _counted(request, "mark", await _evidence(request, EvidenceAction.mark))


@require(Role.supervisor)
async def release(request: web.Request) -> web.StreamResponse:
    return _counted(request, "release", await _evidence(request, EvidenceAction.release))


@require(Role.supervisor)
async def export(request: web.Request) -> web.StreamResponse:
    return _counted(request, "export", await _export(request))


async def _export(request: web.Request) -> web.Response:
    """The CLI's ``bwv export``, run in a thread into the exports directory; answers a download link."""
    ctx = context_of(request)
    recording_id = request.match_info["recording_id"]
    reason = str((await _body(request)).get("reason") or "").strip()
    if not reason:
        return _error(400, "an export needs a reason (it goes on the custody record)")
    await ctx.live.refresh()
    if recording_id not in ctx.live.index.recordings:
        return _error(404, f"no recording {recording_id}")
    exports = exports_dir(ctx.settings)
    _forget_old_exports(exports)
    name = f"{recording_id}-{uuid.uuid4().hex[:8]}.zip"
    job = partial(export_bundle, ctx.settings, ctx.store, [recording_id], exports / name, request[USER].name, reason, ctx.live.index)
    try:
        report = await asyncio.get_running_loop().run_in_executor(ctx.executor, job)
    except (ExportError, RemuxError, SendError) as exc:
        return _error(409, str(exc))
    return web.json_response(
        {"status": "applied", "download": f"/api/exports/{name}", "bytes": report.bytes, "sha256": report.sha256, "segments": report.segments}
    )


@require(Role.supervisor)
async def download(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = exports_dir(context_of(request).settings) / name
    if "/" in name or not name.endswith(".zip") or not path.is_file():
        return _error(404, f"no export {name}")
    return web.FileResponse(path, headers={"Content-Disposition": f'attachment; filename="{name}"', "Content-Type": "application/zip"})


def exports_dir(settings: Settings) -> Path:
    path = settings.data_dir / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _forget_old_exports(exports: Path) -> None:
    """Bundles are for downloading now, not for keeping here: the footage stays in storage."""
    cutoff = time.time() - EXPORT_KEEP_SECONDS
    for old in exports.glob("*.zip"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


@require(Role.supervisor)
async def acknowledge(request: web.Request) -> web.StreamResponse:
    return _counted(request, "acknowledge", await _acknowledge(request))


async def _acknowledge(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await _body(request)
    dedup_key, raised_at, note = str(body.get("dedup_key") or ""), str(body.get("at") or ""), str(body.get("note") or "")
    if len(note) > 2048:
        return _error(400, "note: at most 2048 characters")
    await ctx.live.refresh()
    entry = ctx.live.alerts.entry(dedup_key)
    if entry is None:
        return _error(404, f"no alert {dedup_key!r}")
    if raise_id(entry.alert) != raised_at:
        return _error(409, "the alert changed since you saw it (raised again or cleared); look again")
    if not entry.open:
        return _error(409, "the alert was cleared; there is nothing to acknowledge")
    if entry.ack is not None:
        return web.json_response(entry.to_json())  # acknowledged already: once is enough
    alert = entry.alert
    summary = ctx.live.index.recordings.get(alert.recording_id) if alert.recording_id else None
    try:
        event = await ctx.audit.record(
            ALERT_ACKNOWLEDGED,
            request[USER].name,
            summary,
            reason=note,
            detail={
                "dedup_key": dedup_key,
                "alert_at": raised_at,
                "alert_kind": alert.kind,
                "severity": alert.severity.value,
                "camera_id": alert.camera_id,
            },
        )
    except SendError as exc:
        return _error(503, str(exc))
    ctx.live.alerts.note_ack(dedup_key, raised_at, Acknowledgement(event.actor, event.at, event.reason))
    ctx.live.publish_alert_changes()
    updated = ctx.live.alerts.entry(dedup_key)
    assert updated is not None
    return web.json_response(updated.to_json())


def install(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/recordings/{recording_id}/mark", mark)
    r.add_post("/api/recordings/{recording_id}/release", release)
    r.add_post("/api/recordings/{recording_id}/export", export)
    r.add_get("/api/exports/{name}", download)
    r.add_post("/api/alerts/ack", acknowledge)
