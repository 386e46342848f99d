"""``bwv evidence mark|release|extend`` and ``bwv audit``: retention decisions and the custody trail."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from bwv.settings import Settings, get_settings
from consumers.published import audit_trail
from schemas import audit
from schemas.records import AuditRecord, EvidenceAction, RecordingSummary
from streams.commands import CommandError, apply_and_wait, build_command, find_recording
from streams.readmodel import IndexView

app = typer.Typer(help="Mark recordings as evidence, release them, extend their retention.", no_args_is_help=True)
# Piped output keeps whole rows (ids intact) instead of wrapping tables at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)

By = Annotated[str, typer.Option("--by", help="Operator taking the action (on the record)")]
Reason = Annotated[str, typer.Option("--reason", help="Why (on the record)")]
RecordingId = Annotated[str, typer.Argument(help="Recording id")]


class EvidenceError(RuntimeError):
    """An evidence action that was refused or not applied; printed as one line."""


def _run(action: EvidenceAction, recording_id: str, by: str, reason: str, category: str | None = None, days: float | None = None) -> None:
    settings = get_settings()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    summary = asyncio.run(_apply(settings, action, recording_id, by, reason, category, days))
    expiry = summary.expires_at.isoformat(timespec="seconds") if summary.expires_at else "never (kept until released)"
    hold = "legal hold on every object" if summary.legal_hold else "no legal hold"
    out.print(f"{recording_id}: {summary.retention_category}, {hold}, expires {expiry}", highlight=False)


async def _apply(
    settings: Settings, action: EvidenceAction, recording_id: str, by: str, reason: str, category: str | None, days: float | None
) -> RecordingSummary:
    view = IndexView(settings)
    try:
        summary = await find_recording(view, recording_id)
        try:
            command = build_command(settings, summary, action, by, reason, category, days)
        except CommandError as exc:
            raise EvidenceError(str(exc)) from None
        err.print(f"sent {action.value} for {recording_id}; waiting for the worker to apply it…")
        applied = await apply_and_wait(settings, view, command)
        if applied is None:
            raise EvidenceError(
                f"the {action.value} was sent but no worker applied it within 30 s; "
                "is a worker running? (refusals are on bwv.alerts: bwv tail bwv.alerts)"
            )
        return applied
    except CommandError as exc:
        raise EvidenceError(str(exc)) from None
    finally:
        await view.stop()


@app.command()
def mark(
    recording_id: RecordingId,
    by: By,
    reason: Reason,
    category: Annotated[Optional[str], typer.Option(help="Retention category (default evidential: kept until released)")] = None,
) -> None:
    """Keep a recording as evidence: legal hold on every object (and on any that arrive later)."""
    _run(EvidenceAction.mark, recording_id, by, reason, category=category)


@app.command()
def release(recording_id: RecordingId, by: By, reason: Reason) -> None:
    """Lift the hold: the recording is unmarked again and its normal expiry restarts from now."""
    _run(EvidenceAction.release, recording_id, by, reason)


@app.command()
def extend(
    recording_id: RecordingId,
    days: Annotated[float, typer.Option("--days", help="Days added to the current expiry", min=0.0000001)],
    by: By,
    reason: Reason,
) -> None:
    """Keep a recording longer than its category's period."""
    _run(EvidenceAction.extend, recording_id, by, reason, days=days)


def audit_command(
    recording_id: Annotated[Optional[str], typer.Argument(help="Recording whose trail to print and check")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Check a saved trail (JSON lines of AuditRecord) instead", exists=True, dir_okay=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON lines (to save or hand over)")] = False,
) -> None:
    """Print a recording's custody trail and check its hash chain (exit 1 when broken)."""
    if file is not None:
        records = [AuditRecord.model_validate_json(line) for line in file.read_text().splitlines() if line.strip()]
        recording_id = recording_id or (records[0].recording_id if records else None)
    elif recording_id is not None:
        records = audit_trail(get_settings(), recording_id)
    else:
        raise typer.BadParameter("give a RECORDING_ID or --file")
    if not records or recording_id is None:
        raise EvidenceError(f"no audit records for {recording_id or 'that file'}")
    if as_json:
        for record in records:
            print(record.model_dump_json())  # plain: JSON must not pass through rich markup
    else:
        _print_trail(records)
    problems = audit.check(recording_id, records)
    if problems:
        for problem in problems:
            err.print(f"audit record {problem.index}: {problem.why}", highlight=False)
        err.print(f"audit trail of {recording_id}: BROKEN ({len(problems)} problem(s) in {len(records)} records)", highlight=False)
        raise typer.Exit(1)
    err.print(f"audit trail of {recording_id}: intact, {len(records)} records, head {records[-1].hash[:16]}…", highlight=False)


def _print_trail(records: list[AuditRecord]) -> None:
    table = Table("#", "at (UTC)", "event", "by", "reason", "detail")
    for r in records:
        e = r.event
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if k not in ("chain",))
        table.add_row(str(r.index), e.at.strftime("%Y-%m-%d %H:%M:%S"), e.kind, e.actor, e.reason, detail[:120])
    out.print(table)


