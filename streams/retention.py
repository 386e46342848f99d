"""Retention rules: when a recording expires, what an evidence command does to it. Pure.

A recording's expiry is ``max(capture end, retention_start) + category days +
extended days``; a category without days (``evidential``) has no expiry: the
footage is kept, under an S3 legal hold, until released. Only a closed,
unheld, expired recording is ever due for deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.records import (
    DeletedObject,
    EvidenceAction,
    EvidenceCommand,
    RecordingStateName,
    RecordingSummary,
)

UNMARKED = "unmarked"
KEEP_COMMAND_IDS = 20  # a command re-delivered within this many is recognised


class DeletionPlan(BaseModel):
    """Written before the first object is deleted, so a restart finishes the same deletion."""

    model_config = ConfigDict(extra="ignore")
    deletion_id: str
    rule: str
    category: str
    expired_at: datetime
    started_at: datetime
    objects: list[DeletedObject]


class RecordingEntry(BaseModel):
    """Table value of ``recording-index``: the summary and what retention is doing to it."""

    model_config = ConfigDict(extra="ignore")
    summary: RecordingSummary
    partition: int
    deletion: DeletionPlan | None = None
    commands: list[str] = []  # ids of the last commands applied

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def expiry(summary: RecordingSummary, categories: dict[str, float | None]) -> datetime | None:
    days = categories.get(summary.retention_category, categories[UNMARKED])
    if days is None:
        return None
    start = max(summary.end, summary.retention_start or summary.end)
    return start + timedelta(days=days + summary.extended_days)


def rule_of(summary: RecordingSummary, categories: dict[str, float | None]) -> str:
    days = categories.get(summary.retention_category)
    base = "capture end" if summary.retention_start is None else "release"
    extra = f" + {summary.extended_days:g} days extended" if summary.extended_days else ""
    return f"{summary.retention_category}: {days:g} days after {base}{extra}"


def due(summary: RecordingSummary, now: datetime) -> bool:
    return (
        summary.state is not RecordingStateName.deleted
        and not summary.legal_hold
        and summary.closed_reason is not None
        and summary.expires_at is not None
        and summary.expires_at <= now
    )


@dataclass(frozen=True)
class CommandOutcome:
    summary: RecordingSummary | None  # None: refused or already applied
    hold: bool | None = None  # set (True) or lift (False) the legal hold on every object
    refused: str | None = None


def apply_command(
    entry: RecordingEntry, command: EvidenceCommand, categories: dict[str, float | None], now: datetime
) -> CommandOutcome:
    summary = entry.summary
    if command.command_id in entry.commands:
        return CommandOutcome(None)
    if summary.state is RecordingStateName.deleted or entry.deletion is not None:
        return CommandOutcome(None, refused=f"recording {summary.recording_id} is deleted or being deleted")
    who = {"marked_by": command.by, "marked_reason": command.reason, "marked_at": now, "last_command_id": command.command_id}
    hold: bool | None = None
    if command.action is EvidenceAction.mark:
        category = command.category or "evidential"
        if category not in categories or category == UNMARKED:
            return CommandOutcome(None, refused=f"unknown retention category {category!r}")
        hold = categories[category] is None
        changed = summary.model_copy(update={**who, "retention_category": category, "legal_hold": hold})
    elif command.action is EvidenceAction.release:
        if summary.retention_category == UNMARKED and not summary.legal_hold:
            return CommandOutcome(None, refused=f"recording {summary.recording_id} is not marked")
        hold = False if summary.legal_hold else None
        changed = summary.model_copy(
            update={**who, "retention_category": UNMARKED, "legal_hold": False, "retention_start": now, "extended_days": 0}
        )
    else:
        if summary.expires_at is None:
            return CommandOutcome(None, refused=f"recording {summary.recording_id} has no expiry to extend")
        changed = summary.model_copy(update={**who, "extended_days": summary.extended_days + (command.days or 0)})
    changed = changed.model_copy(update={"expires_at": expiry(changed, categories), "updated_at": now})
    return CommandOutcome(changed, hold=hold)


def remember(entry: RecordingEntry, command_id: str) -> list[str]:
    return [*entry.commands, command_id][-KEEP_COMMAND_IDS:]
