"""Operator actions on the custody record: who viewed, played or acknowledged what.

Events go through ``streams.commands`` (``custody_event`` + ``record_custody``),
the same path as the CLI's, and the worker chains them into ``bwv.audit``.
Marks and releases are recorded by the worker itself when it applies them.

A browser asks for a video several times while it plays it (range requests),
and may load a recording's page twice in a row; such repeats within
``window`` seconds by the same session count as one view or play.

An HLS player (live or a whole recording) reloads its playlist every couple of
seconds for as long as it plays: each player sends a token of its own with the
playlist (``?view=``), and one token is one ``played`` event (``live`` true or
false in its detail), however long it plays. Segments are served to a session
that has such a play on the record for their recording.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor

from bwv.settings import Settings
from schemas.records import CustodyEvent, DetailValue, RecordingSummary
from streams.commands import custody_event, record_custody

VIEWED = "viewed"
PLAYED = "played"
ALERT_ACKNOWLEDGED = "alert_acknowledged"


class AuditLog:
    def __init__(
        self, settings: Settings, executor: Executor, window: float = 60.0, on_record: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_record = on_record
        self.executor = executor
        self.window = window
        self._recent: dict[tuple[str, str, str], float] = {}  # (kind, session, recording) -> when
        self._plays: OrderedDict[tuple[str, str, bool, str], None] = OrderedDict()  # (session, recording, live, view)
        self._played: OrderedDict[tuple[str, str], None] = OrderedDict()  # (session, recording) with a play recorded
        self._pending_plays: dict[tuple[str, str, bool, str], asyncio.Future[CustodyEvent]] = {}

    async def record(
        self,
        kind: str,
        actor: str,
        summary: RecordingSummary | None = None,
        reason: str = "",
        detail: dict[str, DetailValue] | None = None,
    ) -> CustodyEvent:
        """Put one event on bwv.custody and wait until the broker has it."""
        event = custody_event(kind, actor, summary, reason=reason, detail=detail)
        await asyncio.get_running_loop().run_in_executor(self.executor, record_custody, self.settings, event)
        if self.on_record:
            self.on_record(kind)
        return event

    async def record_once(self, kind: str, session: str, actor: str, summary: RecordingSummary, detail: dict[str, DetailValue] | None = None) -> bool:
        """Record unless this session did the same to this recording within the window; True if recorded."""
        now = time.monotonic()
        self._recent = {k: t for k, t in self._recent.items() if now - t < self.window}
        key = (kind, session, summary.recording_id)
        if key in self._recent:
            return False
        self._recent[key] = now
        try:
            await self.record(kind, actor, summary, detail=detail)
        except BaseException:
            self._recent.pop(key, None)  # not recorded: the next request tries again
            raise
        return True

    async def record_play(self, session: str, actor: str, summary: RecordingSummary, *, live: bool, view: str) -> bool:
        """One ``played`` event per player (its ``view`` token); True if this call recorded it.

        Concurrent requests of one player wait for the same event; a failure
        leaves nothing remembered, so the next request tries again.
        """
        key = (session, summary.recording_id, live, view[:64])
        if key in self._plays:
            return False
        pending = self._pending_plays.get(key)
        if pending is not None:
            await asyncio.shield(pending)
            return False
        pending = asyncio.ensure_future(self.record(PLAYED, actor, summary, detail={"live": live}))
        self._pending_plays[key] = pending
        try:
            await asyncio.shield(pending)
        finally:
            self._pending_plays.pop(key, None)
        _bounded_add(self._plays, key)
        _bounded_add(self._played, (session, summary.recording_id))
        return True

    def has_played(self, session: str, recording_id: str) -> bool:
        """Whether this session's playing of the recording is on the record (segments are served then)."""
        return (session, recording_id) in self._played


_REMEMBERED = 50_000  # plays remembered; a forgotten one is recorded again at its next request, never skipped


def _bounded_add(entries: OrderedDict, key: object) -> None:  # type: ignore[type-arg]
    entries[key] = None
    entries.move_to_end(key)
    while len(entries) > _REMEMBERED:
        entries.popitem(last=False)
