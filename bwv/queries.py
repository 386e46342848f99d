"""``bwv recordings``: the query API's answers as a table, read straight from the index topics."""

from __future__ import annotations

import sys
import asyncio
import logging
from datetime import datetime
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from bwv.settings import get_settings
from schemas.records import RecordingSummary
from streams.api import BadQuery, parse_time
from streams.readmodel import IndexView

# Piped output keeps whole rows (ids intact) instead of wrapping tables at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)


async def _find(camera: str | None, officer: str | None, since: datetime | None, until: datetime | None) -> list[RecordingSummary]:
    view = IndexView(get_settings())
    try:
        await view.catch_up()
        return view.find_recordings(camera, officer, since, until)
    finally:
        await view.stop()


def recordings(
    camera: Annotated[Optional[str], typer.Option(help="Only this camera")] = None,
    officer: Annotated[Optional[str], typer.Option(help="Only this officer")] = None,
    since: Annotated[Optional[str], typer.Option(help="Overlapping this time or later (ISO 8601, UTC if no zone)")] = None,
    until: Annotated[Optional[str], typer.Option(help="Overlapping this time or earlier (ISO 8601)")] = None,
) -> None:
    """Find recordings by camera, officer and time (newest first), as the query API does."""
    try:
        window = parse_time("--since", since), parse_time("--until", until)
    except BadQuery as exc:
        raise typer.BadParameter(str(exc)) from None
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # an unreachable broker is one error line, below
    found = asyncio.run(_find(camera, officer, *window))
    table = Table("recording", "camera", "officer", "start (UTC)", "duration", "segments", "MB", "state", "expires")
    for r in found:
        table.add_row(
            r.recording_id,
            r.camera_id,
            r.officer_id,
            r.start.strftime("%Y-%m-%d %H:%M:%S"),
            f"{r.duration_seconds:.0f} s",
            str(r.segment_count) + (f" ({r.missing_sequences} missing)" if r.missing_sequences else ""),
            f"{r.bytes / 1e6:.1f}",
            r.state.value,
            r.expires_at.strftime("%Y-%m-%d") if r.expires_at else "-",
        )
    out.print(table)
    out.print(f"{len(found)} recording(s)", highlight=False)
