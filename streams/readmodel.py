"""The query side of the index: every recording summary and camera status, on any worker.

The index tables are partition-local: a worker holds only its cameras. Queries
("all cameras", "recordings of officer X last week") span every partition, so
instead of fanning each one out to every worker and merging, each worker keeps
this read model of the two compacted topics the index publishes, caught up to
the topics' ends before every answer. Any worker then gives the same answer,
and a rebalance changes nothing. Memory: one summary (~1 kB) per recording
still on the compacted topic.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import ValidationError

from bwv.settings import Settings
from schemas.records import CameraStatus, RecordingSummary
from schemas.topics import CAMERA_STATUS, RECORDINGS
from streams.catchup import CatchUpReader

log = logging.getLogger(__name__)


class IndexView:
    def __init__(self, settings: Settings) -> None:
        self.recordings: dict[str, RecordingSummary] = {}
        self.cameras: dict[str, CameraStatus] = {}
        self._readers = [
            CatchUpReader(settings, [RECORDINGS], self._apply_recording, "recordings-view"),
            CatchUpReader(settings, [CAMERA_STATUS], self._apply_status, "camera-status-view"),
        ]

    async def start(self) -> None:
        for reader in self._readers:
            await reader.start()

    async def stop(self) -> None:
        for reader in self._readers:
            await reader.stop()

    async def catch_up(self) -> None:
        for reader in self._readers:
            if not reader.started:
                await reader.start()
            await reader.catch_up()

    def _apply_recording(self, key: bytes | None, value: bytes | None) -> None:
        _apply(self.recordings, RecordingSummary, key, value)

    def _apply_status(self, key: bytes | None, value: bytes | None) -> None:
        _apply(self.cameras, CameraStatus, key, value)

    # --- queries ----------------------------------------------------------------------
    def camera_list(self, state: str | None = None) -> list[CameraStatus]:
        found = sorted(self.cameras.values(), key=lambda c: c.camera_id)
        return [c for c in found if state is None or c.state.value == state]

    def find_recordings(
        self,
        camera: str | None = None,
        officer: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RecordingSummary]:
        """Recordings overlapping [since, until], newest first."""
        return sorted(
            (
                r
                for r in self.recordings.values()
                if (camera is None or r.camera_id == camera)
                and (officer is None or r.officer_id == officer)
                and (since is None or r.end >= since)
                and (until is None or r.start <= until)
            ),
            key=lambda r: (r.start, r.recording_id),
            reverse=True,
        )


def _apply(into: dict, cls: type, key: bytes | None, value: bytes | None) -> None:  # type: ignore[type-arg]
    name = (key or b"").decode("utf-8", "replace")
    if not value:
        into.pop(name, None)  # tombstone: the recording was deleted
        return
    try:
        into[name] = cls.from_json(value)
    except ValidationError as exc:
        log.warning("ignored an unreadable %s record for %s: %s", cls.__name__, name, exc.errors()[0]["msg"])
