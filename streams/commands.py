"""Operator actions from outside the worker: evidence commands and custody events.

The CLI (``bwv evidence``) and the control room both go through here, so an
action means the same whichever way it was taken. A command is keyed by the
recording's camera id, so it reaches the worker that owns the recording's index;
``apply_and_wait`` then watches the recording summary until the worker has
applied it (its ``last_command_id``), so the operator sees the outcome.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from bwv.settings import Settings
from schemas.audit import SYSTEM
from schemas.records import (
    CustodyEvent,
    DetailValue,
    EvidenceAction,
    EvidenceCommand,
    RecordingSummary,
)
from schemas.topics import COMMANDS, CUSTODY
from streams.readmodel import IndexView
from streams.sender import send_records


class CommandError(ValueError):
    """An operator action that cannot be taken; the message says why."""


def new_id() -> str:
    return uuid.uuid4().hex


def build_command(
    settings: Settings,
    summary: RecordingSummary,
    action: EvidenceAction,
    by: str,
    reason: str,
    category: str | None = None,
    days: float | None = None,
) -> EvidenceCommand:
    """Validate an action against the recording and the settings before anything is sent."""
    if not by.strip() or not reason.strip():
        raise CommandError("an evidence action needs who takes it (--by) and why (--reason)")
    if summary.state.value == "deleted":
        raise CommandError(f"recording {summary.recording_id} was deleted; there is nothing left to keep")
    if action is EvidenceAction.mark:
        category = category or "evidential"
        if category == "unmarked" or category not in settings.retention_categories:
            known = ", ".join(sorted(settings.retention_categories))
            raise CommandError(f"unknown retention category {category!r}; known: {known} (BWV_RETENTION_CATEGORIES)")
    elif action is EvidenceAction.release:
        if summary.retention_category == "unmarked":
            raise CommandError(f"recording {summary.recording_id} is not marked")
    elif action is EvidenceAction.extend:
        if days is None or days <= 0:
            raise CommandError("extend needs a positive number of --days")
        if summary.expires_at is None:
            raise CommandError(f"recording {summary.recording_id} is kept until released: it has no expiry to extend")
    return EvidenceCommand(
        command_id=new_id(),
        action=action,
        recording_id=summary.recording_id,
        camera_id=summary.camera_id,
        by=by.strip(),
        reason=reason.strip(),
        category=category if action is EvidenceAction.mark else None,
        days=days if action is EvidenceAction.extend else None,
    )


def send_command(settings: Settings, command: EvidenceCommand) -> None:
    send_records(settings, COMMANDS, [(command.camera_id, command)])


def custody_event(
    kind: str,
    actor: str,
    summary: RecordingSummary | None = None,
    reason: str = "",
    detail: dict[str, DetailValue] | None = None,
) -> CustodyEvent:
    return CustodyEvent(
        event_id=new_id(),
        kind=kind,
        recording_id=summary.recording_id if summary else None,
        camera_id=summary.camera_id if summary else None,
        actor=actor,
        reason=reason,
        detail=detail or {},
    )


def record_custody(settings: Settings, event: CustodyEvent) -> None:
    """Put an operator's action on the record (the worker chains it into bwv.audit)."""
    send_records(settings, CUSTODY, [(event.camera_id or SYSTEM, event)])


async def find_recording(view: IndexView, recording_id: str) -> RecordingSummary:
    await view.catch_up()
    summary = view.recordings.get(recording_id)
    if summary is None:
        raise CommandError(f"no recording {recording_id} in the index")
    return summary


async def apply_and_wait(settings: Settings, view: IndexView, command: EvidenceCommand, timeout: float = 30.0) -> RecordingSummary | None:
    """Send the command, then the recording's summary once the worker applied it (None on timeout)."""
    await asyncio.get_running_loop().run_in_executor(None, send_command, settings, command)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await view.catch_up()
        summary = view.recordings.get(command.recording_id)
        if summary is not None and summary.last_command_id == command.command_id:
            return summary
        await asyncio.sleep(0.2)
    return None
