"""Operator actions on the custody record: who viewed, played or acknowledged what.

Events go through ``streams.commands`` (``custody_event`` + ``record_custody``),
the same path as the CLI's, and the worker chains them into ``bwv.audit``.
Marks and releases are recorded by the worker itself when it applies them.

A browser asks for a video several times while it plays it (range requests),
and may load a recording's page twice in a row; such repeats within
``window`` seconds by the same session count as one view or play.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor

from bwv.settings import Settings
from schemas.records import CustodyEvent, DetailValue, RecordingSummary
from streams.commands import custody_event, record_custody

VIEWED = "viewed"
PLAYED = "played"
ALERT_ACKNOWLEDGED = "alert_acknowledged"


class AuditLog:
    def __init__(self, settings: Settings, executor: Executor, window: float = 60.0) -> None:
        self.settings = settings
        self.executor = executor
        self.window = window
        self._recent: dict[tuple[str, str, str], float] = {}  # (kind, session, recording) -> when

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
