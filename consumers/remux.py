"""Stored MPEG-TS segments of a recording → one MP4, without re-encoding.

Used for playback in the control room and by the evidence export. Every packet
is copied bit for bit; only the framing changes, because the two containers
frame the same codecs differently (the DESIGN.md "known trap"):

* H.264/HEVC in TS is Annex B (start codes, parameter sets in-band); MP4 wants
  length-prefixed NAL units and an ``avcC``/``hvcC`` box. FFmpeg's MP4 muxer
  converts both when the stream's extradata is Annex B, which the TS demuxer
  provides (the SPS/PPS found at the segment's first keyframe).
* AAC in TS is ADTS (a header on every frame); MP4 wants raw frames and an
  AudioSpecificConfig. The ``aac_adtstoasc`` bitstream filter strips the
  headers and hands the config to the muxer with the first packet.

Segments of one recording follow each other on one timeline (the segmenter
keeps the source's timestamps), so timestamps are copied, shifted so the
recording starts at 0. A segment whose timestamps go backwards (a camera that
restarted its clock, or the 26.5 h wrap of TS timestamps) is moved to start
where the previous one ended, so the output's timeline only moves forward.

Steps, marked in the code:
1. open each segment (in sequence order) as it is needed: a long recording is
   never held in memory whole;
2. on the first one, declare the output streams (video, then every audio track)
   from the segment's streams, with an ``aac_adtstoasc`` filter per AAC track;
3. copy each packet with its timestamps moved onto the output timeline;
4. close: the muxer writes the index at the front (``faststart``), so a browser
   can start playing before it has the whole file.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from av.bitstream import BitStreamFilterContext

log = logging.getLogger(__name__)

# Which stream types are copied. Data streams (KLV, timed metadata) have no MP4 mapping.
_COPIED_TYPES = ("video", "audio")


class RemuxError(RuntimeError):
    """The segments cannot be turned into an MP4; the message says which and why."""


@dataclass
class RemuxReport:
    segments: int = 0
    skipped_segments: list[int] = field(default_factory=list)  # positions that held nothing playable
    packets: dict[str, int] = field(default_factory=dict)  # "video" / "audio" -> packets copied
    duration_seconds: float = 0.0
    streams: list[str] = field(default_factory=list)  # e.g. ["video h264 320x240", "audio aac 48000 Hz"]


@dataclass
class _Output:
    """One output stream and how packets of the matching input stream reach it."""

    stream: av.stream.Stream
    time_base: Fraction
    bsf: BitStreamFilterContext | None = None
    last_dts: int | None = None


class _Timeline:
    """Maps each segment's timestamps onto one forward-moving output timeline (in seconds)."""

    def __init__(self) -> None:
        self.offset: float | None = None  # added to a segment's own timestamps
        self.end = 0.0  # where the output so far ends

    def start_segment(self, first_dts_seconds: float) -> None:
        if self.offset is None:
            self.offset = -first_dts_seconds  # the recording starts at 0
        elif first_dts_seconds + self.offset < self.end - 0.5:
            # Went backwards by more than jitter: a clock reset or wrap. Join end to start.
            log.warning("segment timestamps jump back %.3f s; joined to the previous segment's end",
                        self.end - (first_dts_seconds + self.offset))
            self.offset = self.end - first_dts_seconds

    def place(self, seconds: float, duration: float) -> float:
        assert self.offset is not None
        out = seconds + self.offset
        self.end = max(self.end, out + duration)
        return out


def _key(stream: av.stream.Stream, position: int) -> tuple[str, int]:
    return (stream.type, position)


def _declare_outputs(output: av.container.OutputContainer, source: av.container.InputContainer) -> dict[tuple[str, int], _Output]:
    """Step 2: one output stream per video/audio stream of the first segment (video first)."""
    outputs: dict[tuple[str, int], _Output] = {}
    for kind in _COPIED_TYPES:
        for position, stream in enumerate(s for s in source.streams if s.type == kind):
            template = output.add_stream_from_template(stream)
            bsf = None
            if kind == "audio" and stream.codec_context.name == "aac":
                # ADTS -> raw AAC; the filter puts the AudioSpecificConfig where the muxer finds it.
                bsf = BitStreamFilterContext("aac_adtstoasc", stream, template)
            # TS's stream-type tags (0x1b, 0x0f) mean nothing in MP4: the muxer picks its own (avc1, mp4a).
            template.codec_context.codec_tag = "\0\0\0\0"
            template.time_base = stream.time_base
            outputs[_key(stream, position)] = _Output(template, stream.time_base or Fraction(1, 90_000), bsf)
    if not any(key[0] == "video" for key in outputs):
        raise RemuxError("the first playable segment has no video stream")
    return outputs


def _describe(stream: av.stream.Stream) -> str:
    ctx = stream.codec_context
    if stream.type == "video":
        return f"video {ctx.name} {ctx.width}x{ctx.height}"
    return f"audio {ctx.name} {ctx.sample_rate} Hz"


def _first_dts_seconds(packets: list[av.Packet]) -> float | None:
    times = [float(p.dts * p.time_base) for p in packets if p.dts is not None and p.time_base]
    return min(times) if times else None


def remux_to_mp4(segments: Iterable[bytes], out: str | Path | BinaryIO) -> RemuxReport:
    """Write the segments (MPEG-TS bytes, in sequence order) as one MP4 to ``out``.

    ``out`` is a path, or a seekable binary file. Written to a path, the index is
    moved to the front (FFmpeg re-reads the file by name for that), so a player
    can start before it has the whole file; a file object gets it at the end.
    Segments without a video or audio packet are skipped and listed in the
    report; no playable segment at all is an error.
    """
    report = RemuxReport()
    timeline = _Timeline()
    outputs: dict[tuple[str, int], _Output] | None = None
    to_path = isinstance(out, (str, Path))
    target = str(out) if to_path else out
    options = {"movflags": "+faststart"} if to_path else {}
    with av.open(target, "w", format="mp4", options=options) as output:
        # Step 1: one segment at a time.
        for position, data in enumerate(segments):
            packets, streams = _read_segment(data, position)
            if not packets:
                report.skipped_segments.append(position)
                continue
            if outputs is None:
                outputs = _declare_outputs(output, streams.container)
                report.streams = [_describe(s) for s in streams.container.streams if s.type in _COPIED_TYPES]
            first = _first_dts_seconds(packets)
            if first is None:
                report.skipped_segments.append(position)
                continue
            timeline.start_segment(first)
            # Step 3: copy, with timestamps on the output timeline.
            for packet, key in packets_with_keys(packets, streams):
                target_stream = outputs.get(key)
                if target_stream is None:
                    continue  # a stream the first segment did not have
                _copy(output, target_stream, packet, timeline, report)
            streams.container.close()
            report.segments += 1
        if outputs is None:
            raise RemuxError("no segment holds any video or audio packet")
        for target_stream in outputs.values():
            if target_stream.bsf is not None:
                for packet in target_stream.bsf.filter(None):
                    _mux(output, target_stream, packet)
        # Step 4: closing the container writes the index (moov) at the front.
    report.duration_seconds = round(timeline.end, 3)
    return report


@dataclass
class _Streams:
    container: av.container.InputContainer
    keys: dict[int, tuple[str, int]]


def _read_segment(data: bytes, position: int) -> tuple[list[av.Packet], _Streams]:
    try:
        container = av.open(io.BytesIO(data), "r", format="mpegts")
    except av.FFmpegError as exc:
        log.warning("segment %d is not readable MPEG-TS (%s); skipped", position, exc)
        return [], _Streams(None, {})  # type: ignore[arg-type]
    keys: dict[int, tuple[str, int]] = {}
    for kind in _COPIED_TYPES:
        for n, stream in enumerate(s for s in container.streams if s.type == kind):
            keys[stream.index] = _key(stream, n)
    try:
        packets = [p for p in container.demux() if p.size and p.stream.index in keys]
    except av.FFmpegError as exc:
        log.warning("segment %d could not be read to its end (%s); kept what was read", position, exc)
        packets = []
    if not packets:
        container.close()
    return packets, _Streams(container, keys)


def packets_with_keys(packets: list[av.Packet], streams: _Streams) -> Iterable[tuple[av.Packet, tuple[str, int]]]:
    for packet in packets:
        yield packet, streams.keys[packet.stream.index]


def _copy(output: av.container.OutputContainer, target: _Output, packet: av.Packet, timeline: _Timeline, report: RemuxReport) -> None:
    tb = packet.time_base or target.time_base
    duration = float((packet.duration or 0) * tb)
    dts = packet.dts if packet.dts is not None else packet.pts
    pts = packet.pts if packet.pts is not None else dts
    if dts is None:
        return  # no time at all: nowhere to put it
    shift = round(timeline.place(float(dts * tb), duration) / tb) - dts
    packet.dts = dts + shift
    packet.pts = pts + shift
    if target.last_dts is not None and packet.dts <= target.last_dts:
        # A muxer refuses non-increasing DTS; a duplicate at a segment joint is nudged by one tick.
        bump = target.last_dts + 1 - packet.dts
        packet.dts += bump
        packet.pts += bump
    target.last_dts = packet.dts
    kind = target.stream.type
    report.packets[kind] = report.packets.get(kind, 0) + 1
    if target.bsf is not None:
        for filtered in target.bsf.filter(packet):
            _mux(output, target, filtered)
    else:
        _mux(output, target, packet)


def _mux(output: av.container.OutputContainer, target: _Output, packet: av.Packet) -> None:
    packet.stream = target.stream
    output.mux_one(packet)
