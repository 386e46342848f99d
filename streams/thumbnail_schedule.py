"""Which segments get a thumbnail as they are stored: one per camera every few seconds.

Cutting a 1080p keyframe costs ~30-45 ms of CPU, about six times everything else
a worker does for a segment, and the live wall needs a fresh picture every few
seconds, not every segment. So a segment is cut when it is the first of its
recording or when its capture span crosses a multiple of the interval on the
wall clock (UTC epoch). The rule looks only at the segment itself: every worker,
a restarted one, and a redelivered segment decide the same, and readers can
tell which thumbnails exist without asking. The others are cut on demand
(``streams.thumbnailer.load_thumbnail``) when somebody asks for them.
"""

from __future__ import annotations

import math
from datetime import datetime


def thumbnail_due(sequence: int, capture_start: datetime, capture_end: datetime, interval_seconds: float) -> bool:
    """True if this segment's thumbnail is cut while it is stored.

    ``interval_seconds`` 0 means every segment. A segment longer than the
    interval always crosses a boundary, so footage is never without pictures.
    """
    if interval_seconds <= 0 or sequence == 0:
        return True
    start, end = capture_start.timestamp(), capture_end.timestamp()
    boundary = math.ceil(start / interval_seconds) * interval_seconds  # the first one at or after the start
    return boundary < end
