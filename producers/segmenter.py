"""Cuts a video source into keyframe-aligned MPEG-TS segments, one Kafka message each.

Why MPEG-TS: every segment is a complete file (PAT/PMT, parameter sets before the
keyframe) that decodes alone, and the segments of a recording follow each other on
one timeline, as HLS segments do.

Why remux: footage is evidence. H.264/HEVC packets are copied bit for bit; only
their framing changes where TS demands it (MP4/MKV length prefixes become Annex B
start codes; raw AAC becomes ADTS, which the TS muxer writes from the stream's
AudioSpecificConfig). Any other video codec is the exception and is transcoded to
H.264; an audio track is transcoded to AAC only when TS cannot carry its codec.
Every audio track is kept: audio is evidence too.

Steps, marked in the code:
1. open the source: a file or URL through PyAV, or the synthetic camera;
2. prepare each track's packets for TS: copy, fix the framing, or transcode;
3. cut at the first video keyframe at least ``segment_seconds`` after the last
   cut, and give each audio packet to the segment whose time range holds it;
4. mux each segment into an in-memory TS file.
"""

from __future__ import annotations

import io
import logging
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from urllib.parse import urlsplit, urlunsplit

import av
from av.audio.stream import AudioStream
from av.bitstream import BitStreamFilterContext
from av.container import InputContainer, OutputContainer
from av.stream import Disposition, Stream
from av.video.frame import PictureType
from av.video.stream import VideoStream

from producers.testsrc import TestsrcOptions, testsrc_packets

log = logging.getLogger(__name__)

REMUX_VIDEO_CODECS = frozenset({"h264", "hevc"})
# What FFmpeg's TS muxer carries; anything else is transcoded to AAC.
TS_AUDIO_CODECS = frozenset({"aac", "aac_latm", "mp2", "mp3", "ac3", "eac3", "opus"})
# A segment is held until its audio is in. Files and live streams keep audio
# within about a second of video; a track that goes quiet must not hold segments
# forever, so once video is this far past a segment's end it goes without.
AUDIO_WAIT_SECONDS = 3.0
NETWORK_TIMEOUT_SECONDS = 10.0
TRANSCODE_CRF = "20"  # high quality: a transcode of evidence should lose as little as it can

_VIDEO_TRACK = 0
_NETWORK_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https", "srt", "udp", "tcp"})
# Demuxers that turn text or still images into a "video" stream (plus every "*_pipe" image demuxer).
_NOT_VIDEO_FORMATS = {"tty": "text", "image2": "a still image", "image2pipe": "a still image"}
_PARAMETER_SET_NAL_TYPES = {"h264": frozenset({7, 8}), "hevc": frozenset({32, 33, 34})}
_AAC_SAMPLE_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000})


@dataclass(frozen=True)
class Segment:
    """One keyframe-aligned piece of a recording, as it goes on the bus."""

    index: int  # 0-based position in this recording
    # a complete MPEG-TS file: starts with a video keyframe (with SPS/PPS/VPS in-band),
    # decodable alone, all audio tracks of the source kept
    data: bytes
    start: float  # seconds: pts of its first video frame relative to the source start
    duration: float  # seconds of video it covers (next segment start - this start; for the last one, last frame end)
    codec: str  # "h264" or "hevc"
    width: int
    height: int
    fps: float


class SegmenterError(Exception):
    """The source cannot be segmented; the message says which source and why, on one line."""


# --- step 1: sources ----------------------------------------------------------------


@dataclass
class _Source:
    """An opened source: its tracks (video first, then audio) and raw packets tagged by track."""

    name: str  # for messages; URL credentials redacted
    tracks: list[_Track]
    packets: Iterator[tuple[int, av.Packet]]
    codec: str  # of the segments' video
    width: int
    height: int
    fps: float
    close: Callable[[], None]


def _redact(source: str) -> str:
    """The source as it may appear in messages and logs: camera URLs often carry a password."""
    parts = urlsplit(source)
    if parts.password is None and parts.username is None:
        return source
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _error_reason(exc: BaseException) -> str:
    if isinstance(exc, av.error.ExitError):  # PyAV's timeout interrupts FFmpeg this way
        return f"no data for {NETWORK_TIMEOUT_SECONDS:g} s"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return reason.splitlines()[0]


def _open_message(name: str, exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{name}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{name}: is a directory, not a video file"
    if isinstance(exc, PermissionError):
        return f"{name}: permission denied"
    if isinstance(exc, av.InvalidDataError):
        return f"{name}: not a video file (unrecognised or corrupt data)"
    return f"{name}: cannot open ({_error_reason(exc)})"


def _open_input(source: str, name: str) -> InputContainer:
    """Opens with TCP for RTSP (UDP loses packets, and lost packets are lost evidence) and a network timeout."""
    scheme = urlsplit(source).scheme.lower()
    options = {"rtsp_transport": "tcp"} if scheme in ("rtsp", "rtsps") else {}
    timeout = NETWORK_TIMEOUT_SECONDS if scheme in _NETWORK_SCHEMES else None
    try:
        return av.open(source, "r", options=options, timeout=timeout)
    except (av.FFmpegError, OSError) as exc:
        raise SegmenterError(_open_message(name, exc)) from None


def _codec_name(stream: Stream) -> str | None:
    """The codec's own name ("mp3"), not its decoder's ("mp3float"); None if FFmpeg has no decoder."""
    context = stream.codec_context
    return context.codec.canonical_name if context is not None else None


def _video_stream(container: InputContainer, name: str) -> VideoStream:
    """The first real video stream: cover art in audio files is a "video" stream too."""
    format_name = container.format.name
    if format_name in _NOT_VIDEO_FORMATS or format_name.endswith("_pipe"):
        kind = _NOT_VIDEO_FORMATS.get(format_name, "a still image")
        raise SegmenterError(f"{name}: is {kind} ({format_name}), not a video file")
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            if _codec_name(stream) is None:
                raise SegmenterError(f"{name}: video codec is not supported")
            return stream
    raise SegmenterError(f"{name}: has no video stream")


def _video_track(holder: OutputContainer, stream: VideoStream, codec: str, segment_seconds: float) -> _Track:
    if codec not in REMUX_VIDEO_CODECS:
        log.info("video codec %s cannot be remuxed: transcoding to H.264", codec)
        return _H264Transcoder(holder, stream, segment_seconds)
    extradata = stream.codec_context.extradata
    if extradata and extradata[0] == 1:  # configurationVersion: avcC / hvcC, not Annex B
        return _AnnexBTrack(holder, stream, codec)
    return _ParameterSetTrack(stream, codec)


def _audio_track(holder: OutputContainer, stream: AudioStream, name: str) -> _Track:
    codec = _codec_name(stream)
    if codec in TS_AUDIO_CODECS:
        return _Track(stream)
    if codec is None:
        raise SegmenterError(f"{name}: audio track {stream.index} has a codec that can be neither kept nor decoded")
    log.info("audio codec %s cannot go in MPEG-TS: transcoding to AAC", codec)
    return _AacTranscoder(holder, stream)


def _demux(
    container: InputContainer, streams: Sequence[Stream], tracks: dict[int, int], name: str
) -> Iterator[tuple[int, av.Packet]]:
    for packet in container.demux(*streams):
        if not packet.size:  # each stream ends with an empty flush packet
            continue
        if packet.pts is None and packet.dts is None:
            # Raw elementary streams: with B-frames, presentation order cannot be known without decoding.
            raise SegmenterError(
                f"{name}: packets carry no timestamps (raw elementary stream?); put it in MP4 or TS first"
            )
        yield tracks[packet.stream.index], packet


def _fill_decode_times(packets: Iterator[tuple[int, av.Packet]], frame_ticks: int) -> Iterator[tuple[int, av.Packet]]:
    """Gives every video packet a DTS: TS needs them, increasing and not after the PTS.

    Matroska (and some live sources) leave the first video packets' DTS unset
    until the demuxer has learned the reordering delay. Those are held and given
    DTS one frame apart before the first known one; a later gap continues from the
    previous DTS. Audio passes straight through.
    """
    held: list[tuple[int, av.Packet]] = []
    last: int | None = None
    for track, packet in packets:
        if track != _VIDEO_TRACK:
            yield track, packet
            continue
        if packet.dts is None and last is None:
            held.append((track, packet))
            continue
        if packet.dts is None:
            packet.dts = last + (packet.duration or frame_ticks)
        for back, (_, early) in enumerate(reversed(held), start=1):
            early.dts = packet.dts - back * frame_ticks
        yield from held
        held.clear()
        last = packet.dts
        yield track, packet
    for _, early in held:  # never a DTS: assume no reordering
        early.dts = early.pts
    yield from held


def _frame_ticks(stream: VideoStream, fps: float) -> int:
    """One frame's duration in the stream's time base."""
    if fps <= 0 or not stream.time_base:
        return 1
    return max(1, round(1 / (fps * stream.time_base)))


def _stream_fps(stream: VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _file_source(container: InputContainer, name: str, segment_seconds: float) -> _Source:
    video = _video_stream(container, name)
    audio = list(container.streams.audio)
    # Encoders and converted parameters need streams to live in; this container
    # is never written, its streams are templates for each segment's streams.
    holder = av.open(io.BytesIO(), "w", format="mpegts")
    codec = _codec_name(video) or ""
    tracks = [_video_track(holder, video, codec, segment_seconds)]
    tracks += [_audio_track(holder, stream, name) for stream in audio]
    track_of = {video.index: _VIDEO_TRACK} | {stream.index: k + 1 for k, stream in enumerate(audio)}

    fps = _stream_fps(video)
    packets = _fill_decode_times(_demux(container, [video, *audio], track_of, name), _frame_ticks(video, fps))

    def close() -> None:
        container.close()
        holder.close()

    return _Source(
        name=name,
        tracks=tracks,
        packets=packets,
        codec=codec if codec in REMUX_VIDEO_CODECS else "h264",
        width=video.codec_context.width,
        height=video.codec_context.height,
        fps=fps,
        close=close,
    )


def _open_file_or_url(source: str, segment_seconds: float) -> _Source:
    name = _redact(source)
    container = _open_input(source, name)
    try:
        return _file_source(container, name, segment_seconds)
    except BaseException:
        container.close()
        raise


def _testsrc_source(options: TestsrcOptions, segment_seconds: float, max_seconds: float | None) -> _Source:
    """The synthetic camera's packets are final already: its tracks only copy."""
    streams = testsrc_packets(options, max_seconds, segment_seconds=segment_seconds)
    tracks = [_Track(streams.video)]
    if streams.audio is not None:
        tracks.append(_Track(streams.audio, extradata=streams.audio.codec_context.extradata))
    return _Source(
        name="testsrc",
        tracks=tracks,
        packets=streams.packets,
        codec="h264",
        width=options.width,
        height=options.height,
        fps=float(options.fps),
        close=streams.packets.close,
    )


# --- step 2: tracks prepare packets for TS ----------------------------------------


class _Track:
    """One stream of every segment: where its codec parameters come from, and its packets' preparation.

    The base track copies packets unchanged. ``template`` is a stream whose codec
    parameters each segment's stream copies; ``extradata`` overrides them when the
    template's are stale (an encoder's are only known once it is open).
    """

    def __init__(self, template: Stream, extradata: bytes | None = None) -> None:
        self.template = template
        self.extradata = extradata

    def prepare(self, packet: av.Packet) -> list[av.Packet]:
        return [packet]

    def flush(self) -> list[av.Packet]:
        """Packets still held at the end of the source."""
        return []

    def add_to(self, out: OutputContainer) -> Stream:
        """Declares this track in one segment's TS file (parameters only: no codec is opened)."""
        stream = out.add_stream_from_template(self.template)
        if self.extradata is not None:
            stream.codec_context.extradata = self.extradata
        return stream


class _AnnexBTrack(_Track):
    """H.264/HEVC from MP4/MKV (length-prefixed NAL units) to Annex B, which TS requires.

    ``*_mp4toannexb`` only rewrites the framing and puts the SPS/PPS(/VPS) from the
    extradata before each IDR, which is what lets a segment decode alone. Slice
    data is untouched, so this is still a remux.
    """

    def __init__(self, holder: OutputContainer, source: VideoStream, codec: str) -> None:
        template = holder.add_stream_from_template(source)
        # The filter writes its output parameters (Annex B extradata) into the template.
        self._filter = BitStreamFilterContext(f"{codec}_mp4toannexb", source, template)
        super().__init__(template)

    def prepare(self, packet: av.Packet) -> list[av.Packet]:
        return self._filter.filter(packet)

    def flush(self) -> list[av.Packet]:
        return self._filter.filter(None)


class _ParameterSetTrack(_Track):
    """Annex B already (TS files, RTSP), but keyframes may lack their parameter sets.

    Many cameras send SPS/PPS once (over RTSP: only in the SDP, which FFmpeg turns
    into extradata). A keyframe without them gets the extradata's copy in front,
    so a segment starting there decodes alone; keyframes that have them are copied.
    FFmpeg's TS muxer would do this itself for H.264, but not for HEVC.
    """

    def __init__(self, source: VideoStream, codec: str) -> None:
        super().__init__(source)
        self._parameter_sets = source.codec_context.extradata or b""
        self._codec = codec

    def prepare(self, packet: av.Packet) -> list[av.Packet]:
        if not packet.is_keyframe or not self._parameter_sets:
            return [packet]
        data = bytes(packet)
        if _nal_types(data, self._codec) & _PARAMETER_SET_NAL_TYPES[self._codec]:
            return [packet]
        return [_replace_payload(packet, self._parameter_sets + data)]


class _H264Transcoder(_Track):
    """The exception path: a video codec TS players and browsers do not take becomes H.264.

    Keyframes are forced every ``segment_seconds`` of source time (and keyint is
    set to match), so every cut lands on the requested boundary. The decoded
    frames' own picture types are cleared: copied through, they would force
    keyframes wherever the source had them.
    """

    def __init__(self, holder: OutputContainer, source: VideoStream, segment_seconds: float) -> None:
        decoder = source.codec_context
        decoder.thread_type = "AUTO"
        rate = source.average_rate or source.guessed_rate or Fraction(25)
        keyint = max(1, math.ceil(float(rate) * segment_seconds - 1e-9))
        template = holder.add_stream(
            "libx264", rate=rate, width=decoder.width, height=decoder.height, time_base=source.time_base
        )
        template.codec_context.options = {
            "preset": "veryfast",
            "crf": TRANSCODE_CRF,
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
        template.codec_context.open()
        super().__init__(template)
        self._source = source
        self._segment_seconds = segment_seconds
        self._next_keyframe: float | None = None

    def prepare(self, packet: av.Packet) -> list[av.Packet]:
        return [out for frame in self._source.decode(packet) for out in self._encode(frame)]

    def flush(self) -> list[av.Packet]:
        packets = [out for frame in self._source.decode(None) for out in self._encode(frame)]
        return packets + list(self.template.encode(None))

    def _encode(self, frame: av.VideoFrame) -> list[av.Packet]:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        frame.pict_type = PictureType.NONE
        time = frame.time
        if time is not None and (self._next_keyframe is None or time >= self._next_keyframe - 1e-6):
            frame.pict_type = PictureType.I
            self._next_keyframe = time + self._segment_seconds
        return list(self.template.encode(frame))


class _AacTranscoder(_Track):
    """An audio codec TS cannot carry (PCM, FLAC, Vorbis...) becomes AAC, so the track is still kept."""

    def __init__(self, holder: OutputContainer, source: AudioStream) -> None:
        decoder = source.codec_context
        rate = decoder.sample_rate if decoder.sample_rate in _AAC_SAMPLE_RATES else 48_000
        layout = "mono" if decoder.channels == 1 else "stereo"
        template = holder.add_stream("aac", rate=rate, layout=layout, time_base=Fraction(1, rate))
        template.codec_context.bit_rate = 64_000 * template.codec_context.channels
        template.codec_context.open()
        super().__init__(template, extradata=template.codec_context.extradata)
        self._source = source
        self._resampler = av.AudioResampler(
            format="fltp", layout=layout, rate=rate, frame_size=template.codec_context.frame_size
        )

    def prepare(self, packet: av.Packet) -> list[av.Packet]:
        return self._encode(self._source.decode(packet))

    def flush(self) -> list[av.Packet]:
        packets = self._encode(self._source.decode(None))
        packets += self._encode_resampled(self._resampler.resample(None))
        return packets + list(self.template.encode(None))

    def _encode(self, frames: Sequence[av.AudioFrame]) -> list[av.Packet]:
        return [out for frame in frames for out in self._encode_resampled(self._resampler.resample(frame))]

    def _encode_resampled(self, frames: Sequence[av.AudioFrame]) -> list[av.Packet]:
        return [out for frame in frames for out in self.template.encode(frame)]


def _nal_types(annex_b: bytes, codec: str) -> set[int]:
    """NAL unit types in an Annex B payload (start codes cannot occur inside NAL units)."""
    types: set[int] = set()
    position = annex_b.find(b"\x00\x00\x01")
    while 0 <= position < len(annex_b) - 3:
        header = annex_b[position + 3]
        types.add(header & 0x1F if codec == "h264" else (header >> 1) & 0x3F)
        position = annex_b.find(b"\x00\x00\x01", position + 3)
    return types


def _replace_payload(packet: av.Packet, data: bytes) -> av.Packet:
    """A copy of ``packet`` with new bytes and the same timing and flags."""
    new = av.Packet(data)
    new.pts, new.dts, new.duration = packet.pts, packet.dts, packet.duration
    new.time_base = packet.time_base
    new.is_keyframe = packet.is_keyframe
    return new


def _prepared(source: _Source) -> Iterator[tuple[int, av.Packet]]:
    """The source's packets as TS will carry them, then whatever the tracks still hold."""
    for track, packet in source.packets:
        for ready in source.tracks[track].prepare(packet):
            yield track, ready
    for track, prepared in enumerate(source.tracks):
        for ready in prepared.flush():
            yield track, ready


# --- step 3: cutting ------------------------------------------------------------------


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    return None if value is None or time_base is None else float(value * time_base)


def _presentation_seconds(packet: av.Packet) -> float:
    """Every packet reaching the cutter has a PTS or a DTS (sources guarantee it)."""
    seconds = _seconds(packet.pts if packet.pts is not None else packet.dts, packet.time_base)
    assert seconds is not None, "packet without timestamps"
    return seconds


def _decode_seconds(packet: av.Packet) -> float:
    seconds = _seconds(packet.dts, packet.time_base)
    return _presentation_seconds(packet) if seconds is None else seconds


@dataclass
class _Pending:
    """A segment being collected: its video as it comes, its audio when it closes."""

    origin: float  # source time of the recording's first keyframe
    start: float  # source time of its first keyframe
    packets: list[tuple[float, int, av.Packet]] = field(default_factory=list)  # (decode time, track, packet)
    end: float | None = None  # start of the next segment, once that is cut
    video_end: float = 0.0  # end of its latest frame: the last segment's end


class _Cutter:
    """Decides where segments start and which segment each audio packet joins.

    Video arrives in decode order; a keyframe at least ``segment_seconds`` after
    the current segment's start (less half a frame, for time bases that round)
    begins the next segment. Video before the first keyframe cannot be decoded
    and is dropped. Audio is queued; a closing segment takes the queued audio that
    starts before its end, including audio from before the first keyframe (it is
    evidence) and any that straggled in after an earlier segment had left.
    """

    def __init__(
        self, segment_seconds: float, audio_tracks: Sequence[int], frame_seconds: float, max_seconds: float | None
    ) -> None:
        self._length = segment_seconds
        self._slack = frame_seconds / 2
        self._frame_seconds = frame_seconds
        self._max_seconds = max_seconds
        self._audio_seen = {track: -math.inf for track in audio_tracks}
        self._audio: list[tuple[float, int, av.Packet]] = []
        self._open: deque[_Pending] = deque()
        self._video_time = -math.inf
        self._stop_at: float | None = None
        self.origin: float | None = None
        self.dropped_video = 0

    @property
    def done(self) -> bool:
        """max_seconds reached, and the audio up to it is in."""
        return self._stop_at is not None and self._video_time >= self._stop_at and self._audio_reached(self._stop_at)

    def add_video(self, packet: av.Packet) -> None:
        time = _presentation_seconds(packet)
        self._video_time = max(self._video_time, time)
        if self.origin is None:
            if not packet.is_keyframe:
                self.dropped_video += 1
                return
            self._begin(time)
        if self._stop_at is not None and time >= self._stop_at - 1e-6:
            return
        current = self._open[-1]
        if packet.is_keyframe and time - current.start >= self._length - self._slack:
            current.end = time
            current = _Pending(origin=current.origin, start=time, video_end=time)
            self._open.append(current)
        current.packets.append((_decode_seconds(packet), _VIDEO_TRACK, packet))
        duration = _seconds(packet.duration, packet.time_base) or self._frame_seconds
        current.video_end = max(current.video_end, time + duration)

    def add_audio(self, track: int, packet: av.Packet) -> None:
        time = _presentation_seconds(packet)
        self._audio_seen[track] = max(self._audio_seen[track], time)
        if self._stop_at is not None and time >= self._stop_at:
            return  # past max_seconds, like the video
        self._audio.append((_decode_seconds(packet), track, packet))

    def ready(self) -> list[_Pending]:
        """Segments whose end is known and whose audio has arrived, oldest first."""
        closed: list[_Pending] = []
        while self._open and self._open[0].end is not None and self._audio_reached(self._open[0].end):
            closed.append(self._close(self._open.popleft()))
        return closed

    def finish(self) -> list[_Pending]:
        """Closes everything at the end of the source; the last segment takes all remaining audio."""
        closed = [self._close(self._open.popleft()) for _ in range(len(self._open) - 1)]
        if self._open:
            last = self._open.popleft()
            last.end = None
            closed.append(self._close(last))
        return closed

    def _begin(self, time: float) -> None:
        self.origin = time
        if self._max_seconds is not None:
            self._stop_at = time + self._max_seconds
        self._open.append(_Pending(origin=time, start=time, video_end=time))

    def _audio_reached(self, time: float) -> bool:
        if self._video_time >= time + AUDIO_WAIT_SECONDS:
            return True
        return all(seen >= time for seen in self._audio_seen.values())

    def _close(self, pending: _Pending) -> _Pending:
        end = math.inf if pending.end is None else pending.end
        taken = [item for item in self._audio if item[0] < end]
        self._audio = [item for item in self._audio if item[0] >= end]
        # Interleave by decode time; the sort is stable, so each track keeps its order.
        pending.packets = sorted(pending.packets + taken, key=lambda item: item[0])
        return pending


# --- step 4: muxing ----------------------------------------------------------------------


def _mux(tracks: Sequence[_Track], packets: Sequence[tuple[float, int, av.Packet]]) -> bytes:
    """One TS file in memory: every track declared, packets in decode order."""
    buffer = io.BytesIO()
    # Keep the source timeline: by default a segment whose first DTS is negative
    # (B-frames, AAC priming) would be shifted alone, and no longer line up.
    with av.open(buffer, "w", format="mpegts", container_options={"avoid_negative_ts": "disabled"}) as out:
        streams = [track.add_to(out) for track in tracks]
        for _, track, packet in packets:
            packet.stream = streams[track]
            out.mux_one(packet)
    return buffer.getvalue()


def _segment(index: int, pending: _Pending, source: _Source) -> Segment:
    end = pending.video_end if pending.end is None else pending.end
    return Segment(
        index=index,
        data=_mux(source.tracks, pending.packets),
        start=round(pending.start - pending.origin, 6),
        duration=round(end - pending.start, 6),
        codec=source.codec,
        width=source.width,
        height=source.height,
        fps=source.fps,
    )


def _segments(source: _Source, segment_seconds: float, max_seconds: float | None) -> Iterator[Segment]:
    audio_tracks = range(1, len(source.tracks))
    frame_seconds = 1 / source.fps if source.fps > 0 else 0.04
    cutter = _Cutter(segment_seconds, audio_tracks, frame_seconds, max_seconds)
    index = 0
    try:
        for track, packet in _prepared(source):
            if track == _VIDEO_TRACK:
                cutter.add_video(packet)
            else:
                cutter.add_audio(track, packet)
            for pending in cutter.ready():
                yield _segment(index, pending, source)
                index += 1
            if cutter.done:
                break
        for pending in cutter.finish():
            yield _segment(index, pending, source)
            index += 1
    except av.FFmpegError as exc:
        raise SegmenterError(f"{source.name}: reading failed after {index} segments ({_error_reason(exc)})") from None
    finally:
        source.close()
        if cutter.dropped_video:
            log.info("%s: dropped %d video packets before the first keyframe", source.name, cutter.dropped_video)
    if cutter.origin is None:
        raise SegmenterError(f"{source.name}: contains no decodable video (no keyframe)")


def _check_arguments(segment_seconds: float, max_seconds: float | None) -> None:
    if not (math.isfinite(segment_seconds) and segment_seconds > 0):
        raise ValueError(f"segment_seconds must be a positive number, got {segment_seconds!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, got {max_seconds!r}")


def segment_source(
    source: str,
    segment_seconds: float = 2.0,
    *,
    max_seconds: float | None = None,
    testsrc_options: TestsrcOptions | None = None,
) -> Iterator[Segment]:
    """Yields keyframe-aligned MPEG-TS segments of ``source``, remuxed whenever possible.

    source: a file path, an rtsp:// / http(s):// URL (opened with PyAV; RTSP over
    TCP), or the literal "testsrc" (the synthetic camera, see ``testsrc_options``).
    The source is opened now, so a bad one raises SegmenterError here rather than
    at the first segment; ``max_seconds`` stops after that much source time.
    """
    _check_arguments(segment_seconds, max_seconds)
    if not source:
        raise SegmenterError("no source given: expected a file path, a URL or 'testsrc'")
    if source == "testsrc":
        opened = _testsrc_source(testsrc_options or TestsrcOptions(), segment_seconds, max_seconds)
    else:
        opened = _open_file_or_url(source, segment_seconds)
    return _segments(opened, segment_seconds, max_seconds)
