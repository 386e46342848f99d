"""Footage for the browser: thumbnails as stored, and a recording as one playable MP4.

Storage calls block, so they run in the given executor. A recording's MP4 is
remuxed (``consumers.remux``: packets copied, never re-encoded) from its
stored segments into a cache directory on first request, named after what it
was made from (segment count and chain head), so an open recording that grew
is remuxed again and a closed one only once. The cache keeps the newest few
files and is removed when the control room stops.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from consumers.remux import RemuxReport, remux_to_mp4
from schemas.layout import segments_prefix, sequence_of, thumbnail_key
from schemas.records import RecordingSummary
from streams.objectstore import ObjectStore
from streams.thumbnailer import list_segments as stored_segments

log = logging.getLogger(__name__)

_THUMBNAIL_KEY_RE = re.compile(r"^recordings/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/thumbnails/(\d+)\.jpg$")


def thumbnail_url(key: str | None) -> str | None:
    """The control room's URL for a thumbnail object key (None for none or a key of another shape)."""
    if not key:
        return None
    match = _THUMBNAIL_KEY_RE.match(key)
    if match is None:
        return None
    return f"/media/recordings/{match.group(1)}/thumbnails/{int(match.group(2))}.jpg"


def list_segments(store: ObjectStore, recording_id: str) -> list[dict[str, object]]:
    """Stored segments of a recording with their thumbnail URLs, in sequence order (blocking).

    Every segment has a URL: those not cut as they were stored are cut when the
    browser asks (``thumbnail_stored`` tells which is which).
    """
    return [
        {
            "sequence": s.sequence,
            "bytes": s.size,
            "thumbnail_url": thumbnail_url(thumbnail_key(recording_id, s.sequence)),
            "thumbnail_stored": s.thumbnail_stored,
        }
        for s in stored_segments(store, recording_id)
    ]


def _segment_bodies(store: ObjectStore, recording_id: str) -> Iterator[bytes]:
    """The recording's segments in sequence order, fetched one at a time (never all in memory)."""
    objects = sorted(store.list(store.footage_bucket, segments_prefix(recording_id)), key=lambda o: sequence_of(o.key))
    for obj in objects:
        yield store.get(store.footage_bucket, obj.key)


@dataclass(frozen=True)
class Playable:
    path: Path
    report: RemuxReport


class VideoCache:
    def __init__(
        self, store: ObjectStore, executor: Executor, keep: int = 8, on_remux: Callable[[float], None] | None = None
    ) -> None:
        self.store = store
        self.on_remux = on_remux
        self.executor = executor
        self.keep = keep
        self.directory = Path(tempfile.mkdtemp(prefix="bwv-controlroom-video-"))
        self._locks: dict[str, asyncio.Lock] = {}
        self._made: dict[Path, RemuxReport] = {}

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    async def mp4(self, summary: RecordingSummary) -> Playable:
        """The recording as one MP4 (remuxed now unless the same footage was remuxed before)."""
        name = f"{summary.recording_id}-{summary.segment_count}-{(summary.chain_head or 'none')[:16]}.mp4"
        path = self.directory / name
        lock = self._locks.setdefault(summary.recording_id, asyncio.Lock())
        async with lock:
            if path in self._made and path.exists():
                path.touch()
                return Playable(path, self._made[path])
            partial = path.with_suffix(".part")
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            report = await loop.run_in_executor(self.executor, self._remux, summary.recording_id, partial)
            if self.on_remux:
                self.on_remux(time.monotonic() - started)
            partial.replace(path)
            self._made[path] = report
            log.info("remuxed %s: %s", summary.recording_id, report)
        self._evict()
        return Playable(path, report)

    def _remux(self, recording_id: str, path: Path) -> RemuxReport:
        try:
            return remux_to_mp4(_segment_bodies(self.store, recording_id), path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def _evict(self) -> None:
        files = sorted(self.directory.glob("*.mp4"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[self.keep :]:
            old.unlink(missing_ok=True)
            self._made.pop(old, None)
