"""The camera registry: which Ed25519 key each camera signs with, read from ``bwv.cameras``.

Every worker reads the whole (compacted, one-partition) topic with its own
group-less consumer, so each one knows every camera whatever partitions it owns.
Before each ingest batch the worker catches up to the topic's end: a revocation
acknowledged by the broker applies to every batch processed after it, and a
camera registered a moment before its first segment is already known.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from bwv.settings import Settings
from schemas.records import CameraKey
from schemas.topics import CAMERAS
from streams.catchup import CatchUpReader
from streams.sender import SendError, send_records

log = logging.getLogger(__name__)


class RegistryError(RuntimeError):
    """The registry could not be written (broker unreachable, topic missing)."""


class CameraRegistry:
    """An in-memory copy of ``bwv.cameras``, kept current by ``catch_up``."""

    def __init__(self, settings: Settings) -> None:
        self.keys: dict[str, CameraKey] = {}
        self._reader = CatchUpReader(settings, [CAMERAS], self._apply, "camera-registry")
        self.start = self._reader.start
        self.stop = self._reader.stop
        self.catch_up = self._reader.catch_up

    def get(self, camera_id: str) -> CameraKey | None:
        return self.keys.get(camera_id)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if not value:  # a tombstone forgets the camera
            if key:
                self.keys.pop(key.decode("utf-8", "replace"), None)
            return
        try:
            record = CameraKey.from_json(value)
        except ValidationError as exc:
            log.warning("ignored an unreadable %s record: %s", CAMERAS, exc.errors()[0]["msg"])
            return
        self.keys[record.camera_id] = record


def publish_camera_key(settings: Settings, record: CameraKey) -> None:
    """Write a registration or revocation and wait until the broker has it (acks=all)."""
    try:
        send_records(settings, CAMERAS, [(record.camera_id, record)], client_id="bwv-cameras")
    except SendError as exc:
        raise RegistryError(str(exc)) from None
