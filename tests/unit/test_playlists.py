"""HLS playlists over stored segments: the live window, numbering by position, holes, VOD."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from consumers.controlroom.playlists import LIVE_WINDOW, Entry, render, target_duration, usable, window

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)


def entries(sequences: tuple[int, ...], duration: float = 2.0) -> list[Entry]:
    return [Entry(s, duration, T0 + timedelta(seconds=duration * s)) for s in sequences]


def text(sequences: list[int], *, ended: bool, live: bool = True) -> str:
    win = window(sequences, ended=ended, last=LIVE_WINDOW if live else None)
    return render(win, entries(win.sequences), ended=ended, whole=not live, target_floor=2, url=lambda s: f"segments/{s:08d}.ts")


def test_live_playlist_lists_the_newest_segments_and_does_not_end() -> None:
    body = text(list(range(20)), ended=False)
    lines = body.splitlines()
    assert lines[:4] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{20 - LIVE_WINDOW}"]
    uris = [line for line in lines if not line.startswith("#")]
    assert uris == [f"segments/{s:08d}.ts" for s in range(20 - LIVE_WINDOW, 20)]
    assert "#EXT-X-ENDLIST" not in lines and not any(line.startswith("#EXT-X-PLAYLIST-TYPE") for line in lines)
    assert lines.count("#EXTINF:2.000,") == LIVE_WINDOW
    assert f"#EXT-X-PROGRAM-DATE-TIME:{(T0 + timedelta(seconds=2 * 19)).isoformat(timespec='milliseconds').replace('+00:00', 'Z')}" in lines


def test_a_finished_recording_is_a_vod_from_the_start() -> None:
    lines = text(list(range(5)), ended=True, live=False).splitlines()
    assert "#EXT-X-MEDIA-SEQUENCE:0" in lines and "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
    assert [line for line in lines if not line.startswith("#")] == [f"segments/{s:08d}.ts" for s in range(5)]
    growing = text(list(range(5)), ended=False, live=False).splitlines()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in growing and "#EXT-X-ENDLIST" not in growing


def test_media_sequence_numbers_stay_with_their_segment_across_a_permanent_hole() -> None:
    # Sequence 5 never arrived (quarantined): positions, not camera sequences, number the segments.
    first = window([*range(5), *range(6, 12)], ended=False, last=LIVE_WINDOW)
    later = window([*range(5), *range(6, 14)], ended=False, last=LIVE_WINDOW)
    number = lambda w: {s: w.media_sequence + i for i, s in enumerate(w.sequences)}  # noqa: E731
    shared = set(first.sequences) & set(later.sequences)
    assert shared and all(number(first)[s] == number(later)[s] for s in shared)
    assert first.sequences == (6, 7, 8, 9, 10, 11) and first.discontinuity_sequence == 1 and not first.breaks_before
    body = render(first, entries(first.sequences), ended=False, whole=False, target_floor=2, url=str)
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in body
    inside = window([*range(5), *range(6, 10)], ended=False, last=LIVE_WINDOW)
    assert inside.sequences == (3, 4, 6, 7, 8, 9) and inside.breaks_before == {6} and inside.discontinuity_sequence == 0
    rendered = render(inside, entries(inside.sequences), ended=False, whole=False, target_floor=2, url=str).splitlines()
    assert rendered[rendered.index("#EXT-X-DISCONTINUITY") + 2] == "#EXTINF:2.000,"


def test_a_hole_among_the_newest_is_a_write_in_flight_and_holds_back_what_follows() -> None:
    assert usable([0, 1, 2, 3, 5], ended=False) == [0, 1, 2, 3]  # 4 is still being written
    assert usable([0, 1, 2, 4, 5, 6, 7], ended=False) == [0, 1, 2, 4, 5, 6, 7]  # older: 3 is gone for good
    assert usable([0, 1, 2, 3, 5], ended=True) == [0, 1, 2, 3, 5]


def test_target_duration_fits_every_segment() -> None:
    assert target_duration(entries((0, 1)), 2) == 2
    assert target_duration([Entry(0, 2.6, T0)], 2) == 3  # rounded to the nearest integer must fit
    assert target_duration([], 2) == 2
