"""HLS media playlists (RFC 8216, version 3) over a recording's stored MPEG-TS segments.

Nothing is re-encoded or re-muxed: each stored segment is one media segment,
served as stored. Two shapes:

- **live** — the last ``LIVE_WINDOW`` segments of the recording, no
  ``EXT-X-ENDLIST`` while it is open, so a player reloads it and follows the
  camera; once the recording is closed it ends, and the player plays out.
- **whole** — every segment: ``EXT-X-PLAYLIST-TYPE:VOD`` and ``EXT-X-ENDLIST``
  for a closed recording (played from the start), ``EVENT`` while it grows.

Media sequence numbers are *positions* in the recording's sorted listing, not
the camera's sequence numbers: HLS requires them consecutive, and a recording
may lack a sequence (quarantined or lost). A missing sequence is marked with
``EXT-X-DISCONTINUITY`` (the timestamps jump there), counted by
``EXT-X-DISCONTINUITY-SEQUENCE`` for the part of the listing before the window.
Ingest writes a batch of segments concurrently, so the newest few may land out
of order: a hole among the last ``HOLD_TAIL`` listed is taken as a write still
in flight, and what follows it is held back until it fills (or, if it never
does, until it is older than that) — so a position never changes meaning under
a player.

Each segment carries ``EXT-X-PROGRAM-DATE-TIME`` (its capture start), so the
player knows the capture time of the picture on screen: that is how far behind
live it shows it is. A live playlist also says ``EXT-X-SERVER-CONTROL:
CAN-BLOCK-RELOAD=YES`` (the one tag borrowed from low-latency HLS; no partial
segments): a player may ask for the next segment before it exists and the
answer waits for it (``watch``), which saves up to a second per segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

LIVE_WINDOW = 6  # segments in a live playlist: 12 s of 2 s segments (HLS wants at least 3 target durations)
HOLD_TAIL = 3  # a hole this close to the newest segment is a write still in flight
CONTENT_TYPE = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class Window:
    """Which listed segments a playlist holds, and how they are numbered."""

    sequences: tuple[int, ...]  # camera sequence numbers, ascending
    media_sequence: int  # position of the first in the (usable) listing
    discontinuity_sequence: int  # holes before the first
    breaks_before: frozenset[int]  # sequences that follow a hole (EXT-X-DISCONTINUITY)


@dataclass(frozen=True)
class Entry:
    """One media segment as a playlist lists it."""

    sequence: int
    duration: float  # seconds (capture end - capture start)
    capture_start: datetime


def usable(sequences: Sequence[int], ended: bool) -> list[int]:
    """The listing without what follows a hole among the newest ``HOLD_TAIL`` (all of it once ended)."""
    ordered = sorted(set(sequences))
    if ended:
        return ordered
    for i in range(max(1, len(ordered) - HOLD_TAIL), len(ordered)):
        if ordered[i] != ordered[i - 1] + 1:
            return ordered[:i]
    return ordered


def window(sequences: Sequence[int], *, ended: bool, last: int | None) -> Window:
    """The last ``last`` usable segments (all with ``None``), numbered by position."""
    listed = usable(sequences, ended)
    start = 0 if last is None else max(0, len(listed) - last)
    breaks = {listed[i] for i in range(1, len(listed)) if listed[i] != listed[i - 1] + 1}
    before = sum(1 for i in range(1, start + 1) if listed[i] in breaks) if start else 0
    chosen = tuple(listed[start:])
    return Window(chosen, start, before, frozenset(b for b in breaks if b in chosen and b != chosen[0]))


def target_duration(entries: Sequence[Entry], floor: float) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must fit (RFC 8216 4.3.3.1)."""
    longest = max((e.duration for e in entries), default=floor)
    return max(1, math.ceil(floor - 1e-6), int(longest + 0.5))


def render(
    win: Window,
    entries: Sequence[Entry],
    *,
    ended: bool,
    whole: bool,
    target_floor: float,
    block_reload: bool = False,
    url: Callable[[int], str],
) -> str:
    """The playlist text. ``entries`` are ``win.sequences`` with their durations, in that order."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target_duration(entries, target_floor)}",
        f"#EXT-X-MEDIA-SEQUENCE:{win.media_sequence}",
    ]
    if win.discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{win.discontinuity_sequence}")
    if whole:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}")
    if block_reload and not ended:
        # LL-HLS's blocking reload (the server holds ``?_HLS_msn=N`` until segment N is listed);
        # a player that does not know the tag ignores it and reloads as usual.
        lines.append("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")  # every stored segment starts with a keyframe
    for entry in entries:
        if entry.sequence in win.breaks_before:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso_millis(entry.capture_start)}")
        lines.append(f"#EXTINF:{entry.duration:.3f},")
        lines.append(url(entry.sequence))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _iso_millis(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
