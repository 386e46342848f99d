"""The cached JPEG encoder takes one keyframe after another (regression: every other one failed)."""

from __future__ import annotations

from producers.segmenter import segment_source
from producers.testsrc import TestsrcOptions
from streams.thumbnails import first_keyframe_jpeg


def test_consecutive_downscaled_keyframes_all_encode() -> None:
    # 640x360 -> 320x180: each keyframe goes through the same cached encoder. PyAV rescaled
    # the frames' timestamps into the encoder's 1/1 time base, so every one after the first
    # came out as pts 0 and the encoder refused it ("Invalid pts (0) <= last (0)").
    options = TestsrcOptions(width=640, height=360, fps=15, bitrate=400_000)
    segments = list(segment_source("testsrc", 2.0, max_seconds=8, testsrc_options=options))
    assert len(segments) >= 4
    thumbnails = [first_keyframe_jpeg(s.data, width=320) for s in segments]
    assert all(t.jpeg[:2] == b"\xff\xd8" and (t.width, t.height) == (320, 180) for t in thumbnails)
