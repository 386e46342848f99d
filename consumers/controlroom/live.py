"""What the control room knows: cameras, recordings and alerts, caught up, and what changed.

One ``LiveState`` per process reads the compacted index topics (through
``streams.readmodel.IndexView``) and the alert board. ``refresh`` catches all
of them up to the topics' ends — every answer calls it first — and publishes
what changed since the previous refresh to the ``Hub``, which fans it out to
every connected browser (``events``). A background loop refreshes every
``interval`` seconds, so the wall moves even when nobody asks anything.

The Kafka readers are not safe to drive from two tasks at once, so each
catch-up holds a lock; ``apply_and_wait`` (``streams.commands``) gets the same
locked view.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from bwv.settings import Settings
from consumers.controlroom.alerts import AlertBoard
from consumers.controlroom.media import thumbnail_url
from schemas.records import CameraStatus, RecordingSummary
from streams.readmodel import IndexView

log = logging.getLogger(__name__)

QUEUE_SIZE = 2000  # events one browser may fall behind by before it is sent a fresh snapshot
SNAPSHOT_ALERTS = 500  # open alerts a snapshot carries, newest first


class SharedIndexView(IndexView):
    """An IndexView whose catch-up may be called from several tasks."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lock = asyncio.Lock()

    async def catch_up(self) -> None:
        async with self._lock:
            await super().catch_up()


def camera_tile(status: CameraStatus) -> dict[str, Any]:
    return {
        **status.model_dump(mode="json"),
        "thumbnail_url": thumbnail_url(status.latest_thumbnail),
    }


def recording_json(summary: RecordingSummary) -> dict[str, Any]:
    return {**summary.model_dump(mode="json"), "thumbnail_url": thumbnail_url(summary.latest_thumbnail)}


@dataclass(eq=False)  # compared and hashed by identity: kept in a set
class Subscription:
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


class Hub:
    """Fans events out to every subscriber; a subscriber that falls too far behind is told so."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        for sub in self._subscribers:
            if sub.overflowed:
                continue
            try:
                sub.queue.put_nowait((event, data))
            except asyncio.QueueFull:
                sub.overflowed = True  # its stream starts over with a snapshot

    def __len__(self) -> int:
        return len(self._subscribers)


class LiveState:
    def __init__(self, settings: Settings, interval: float = 0.5) -> None:
        self.settings = settings
        self.interval = interval
        self.index = SharedIndexView(settings)
        self.alerts = AlertBoard(settings)
        self.hub = Hub()
        self.error: str | None = None  # why the topics cannot be read, while they cannot
        self._alerts_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._seen_cameras: dict[str, CameraStatus] = {}
        self._seen_recordings: dict[str, RecordingSummary] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="controlroom-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.index.stop()
        for reader in self.alerts.readers:
            await reader.stop()

    async def refresh(self) -> None:
        """Catch everything up to the topics' ends and publish what changed."""
        async with self._refresh_lock:
            await self.index.catch_up()
            async with self._alerts_lock:
                for reader in self.alerts.readers:
                    if not reader.started:
                        await reader.start()
                    await reader.catch_up()
            self._publish_changes()

    def _publish_changes(self) -> None:
        for camera_id, status in self.index.cameras.items():
            if self._seen_cameras.get(camera_id) is not status:
                self.hub.publish("camera", camera_tile(status))
        for camera_id in set(self._seen_cameras) - set(self.index.cameras):
            self.hub.publish("camera_removed", {"camera_id": camera_id})
        self._seen_cameras = dict(self.index.cameras)
        for recording_id, summary in self.index.recordings.items():
            if self._seen_recordings.get(recording_id) is not summary:
                self.hub.publish("recording", recording_json(summary))
        self._seen_recordings = dict(self.index.recordings)
        for entry in self.alerts.drain_changes():
            self.hub.publish("alert", entry.to_json())

    def publish_alert_changes(self) -> None:
        for entry in self.alerts.drain_changes():
            self.hub.publish("alert", entry.to_json())

    def snapshot(self) -> dict[str, Any]:
        return {
            "cameras": [camera_tile(c) for c in self.index.camera_list()],
            "alerts": [e.to_json() for e in self.alerts.entries()[:SNAPSHOT_ALERTS]],
            "error": self.error,
        }

    async def _loop(self) -> None:
        delay = self.interval
        while True:
            try:
                await self.refresh()
                if self.error is not None:
                    log.info("topics readable again")
                    self.error = None
                    self.hub.publish("status", {"error": None})
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown on every screen, retried with backoff
                message = f"cannot read the pipeline's topics: {exc}"
                if message != self.error:
                    log.warning("%s", message)
                    self.error = message
                    self.hub.publish("status", {"error": message})
                delay = min(delay * 2, 10.0)
            await asyncio.sleep(delay)
