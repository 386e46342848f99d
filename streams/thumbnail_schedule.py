"""Which segments get a thumbnail as they are stored: one per camera every few seconds.

Cutting a 1080p keyframe costs ~30-45 ms of CPU, about six times everything else
a worker does for a segment, and the live wall needs a fresh picture every few
seconds, not every segment. So a segment is cut when it is the first of its
recording or when its capture span crosses one of its camera's interval
boundaries on the wall clock. Each camera's boundaries are shifted by a phase
taken from its id, so a fleet's cuts are spread evenly over the interval instead
of all falling due in the same second. The rule looks only at the segment
itself: every worker, a restarted one, and a redelivered segment decide the
same, and readers can tell which thumbnails exist without asking. The others are
cut on demand (``streams.thumbnailer.load_thumbnail``) when somebody asks.
"""

from __future__ import annotations

import math
import zlib
from datetime import datetime
from typing import Protocol


class Segment(Protocol):
    """What the rule reads: a SegmentHeader or a StoredSegment."""

    camera_id: str
    sequence: int
    capture_start: datetime
    capture_end: datetime


def camera_phase(camera_id: str, interval_seconds: float) -> float:
    """Where in the interval this camera's boundaries fall: stable, and spread evenly over a fleet."""
    return zlib.crc32(camera_id.encode()) / 2**32 * interval_seconds


def thumbnail_due(segment: Segment, interval_seconds: float) -> bool:
    """True if this segment's thumbnail is cut while it is stored.

    ``interval_seconds`` 0 means every segment. A segment longer than the
    interval always crosses a boundary, so footage is never without pictures.
    """
    if interval_seconds <= 0 or segment.sequence == 0:
        return True
    phase = camera_phase(segment.camera_id, interval_seconds)
    start = segment.capture_start.timestamp() - phase
    end = segment.capture_end.timestamp() - phase
    boundary = math.ceil(start / interval_seconds) * interval_seconds  # the first one at or after the start
    return boundary < end
