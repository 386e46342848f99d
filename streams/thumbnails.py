"""Thumbnails: the first keyframe of a segment as a small JPEG, cut in-process with PyAV.

At 100 segments/s thumbnails are a worker's largest CPU cost, so each step does
the least it can (figures from ``python -m bench.thumbnails``, 1080p H.264):

1. open the segment from memory; the stream probe is told to decode nothing
   (``skip_frame=all``): by default it decodes the first frames just to learn the
   pixel format, which doubled the cost, and our own decoder learns it from the
   parameter sets anyway;
2. decode with ``skip_frame=NONKEY`` and drain the decoder right after the first
   keyframe packet, so nothing after the keyframe is demuxed or decoded;
   one decoder thread: decoding the keyframe is ~95 % of the cost, and extra
   threads only shorten it when the encoder wrote several slices, at the same
   CPU cost plus thread start-up; a busy worker gets its parallelism from
   decoding several segments at once (decoding releases the GIL);
3. scale with swscale straight to full-range 4:2:0 (``yuvj420p``, BT.601), which
   is what JPEG holds, in one thread (its default spawns a pool per call);
4. encode with FFmpeg's ``mjpeg`` encoder, one encoder per thread and size, reused.

Steps are marked in the code.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from fractions import Fraction

import av
from av.codec.context import CodecContext
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

# Probe options: decode nothing while probing (see step 1); 128 KiB still finds a TS's PAT/PMT.
_OPEN_OPTIONS = {"skip_frame": "all", "probesize": str(128 * 1024)}
# Decoder threads (step 2): measured fastest per CPU second for one frame.
DECODER_THREAD_TYPE = "SLICE"
DECODER_THREADS = 1
# Step 3: AREA averages every source pixel, so a 6x downscale does not alias (and costs ~0.3 ms).
_SCALE_INTERPOLATION = "AREA"
_JPEG_PIX_FMT = "yuvj420p"
# Demuxers that turn text into a "video" stream: garbage bytes must not become a picture.
_TEXT_FORMATS = frozenset({"tty"})
# Encoders kept per thread; sizes beyond this are rare (a few sources sizes per fleet).
_MAX_CACHED_ENCODERS = 16


@dataclass(frozen=True)
class Thumbnail:
    """A JPEG of one keyframe, and where that keyframe sits on the segment's timeline."""

    jpeg: bytes
    width: int
    height: int
    pts_seconds: float  # the keyframe's presentation time, in the segment's own timestamps


class ThumbnailError(Exception):
    """The segment holds no picture to show; the message says why, on one line."""


def first_keyframe_jpeg(segment: bytes, width: int = 320, quality: int = 80) -> Thumbnail:
    """JPEG of the first decodable keyframe of an MPEG-TS (or any PyAV-readable) segment.

    ``width`` px wide, aspect kept, height even; never upscaled. ``quality`` is on
    libjpeg's 1..100 scale. Safe to call from several threads at once.
    """
    _check_arguments(width, quality)
    keyframe = _first_keyframe(segment)
    size = _thumbnail_size(keyframe.frame, keyframe.sample_aspect, width)
    try:
        small = _scale(keyframe.frame, *size)  # step 3
        jpeg = _encode_jpeg(small, _qscale(quality))  # step 4
    except av.FFmpegError as exc:
        raise ThumbnailError(f"cannot encode the keyframe: {_reason(exc)}") from None
    return Thumbnail(jpeg=jpeg, width=size[0], height=size[1], pts_seconds=keyframe.pts_seconds)


def _check_arguments(width: int, quality: int) -> None:
    """Bad arguments are the caller's bug, not a bad segment: ValueError, said precisely."""
    if not isinstance(width, int) or width < 16:
        raise ValueError(f"thumbnail width must be an int of at least 16 px, got {width!r}")
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"thumbnail quality must be an int in 1..100, got {quality!r}")


def _reason(exc: BaseException) -> str:
    """FFmpeg's reason, without PyAV's call detail: one short line for logs and dead letters."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return reason.splitlines()[0]


# --- steps 1 and 2: open and decode the first keyframe -------------------------------


@dataclass(frozen=True)
class _Keyframe:
    frame: VideoFrame
    pts_seconds: float
    sample_aspect: Fraction  # pixel aspect ratio: anamorphic sources have non-square pixels


def check_keyframe(segment: bytes) -> None:
    """ThumbnailError unless the segment holds a video keyframe; nothing is decoded (~1 ms).

    Segments whose thumbnail is not cut as they are stored are checked this way,
    so footage without a picture is still noticed when it arrives.
    """
    with _open(segment) as container:
        stream = _video_stream(container)
        try:
            for packet in container.demux(stream):
                if packet.size and packet.is_keyframe:
                    return
        except av.FFmpegError as exc:
            raise ThumbnailError(f"no keyframe: {_reason(exc)}") from None
    raise ThumbnailError("no keyframe")


def _open(segment: bytes) -> InputContainer:
    try:
        return av.open(io.BytesIO(segment), "r", options=_OPEN_OPTIONS)  # step 1
    except av.FFmpegError as exc:
        raise ThumbnailError(f"not a readable video segment: {_reason(exc)}") from None


def _first_keyframe(segment: bytes, thread_type: str = DECODER_THREAD_TYPE, threads: int = DECODER_THREADS) -> _Keyframe:
    """The first keyframe, decoded; ThumbnailError if there is none."""
    with _open(segment) as container:
        stream = _video_stream(container)
        try:
            frame = _decode_keyframe(container, stream, thread_type, threads)  # step 2
        except av.FFmpegError as exc:
            raise ThumbnailError(f"no decodable keyframe: {_reason(exc)}") from None
        if frame is None:
            raise ThumbnailError("no decodable keyframe")
        time_base = stream.time_base or Fraction(1, 90_000)
        return _Keyframe(frame, _seconds(frame.pts, time_base), _square_if_unknown(stream.codec_context.sample_aspect_ratio))


def _video_stream(container: InputContainer) -> VideoStream:
    """The first real video stream (cover art counts as "video" too), with a decoder."""
    if container.format.name in _TEXT_FORMATS:
        raise ThumbnailError("not a video segment (read as text)")
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            if stream.codec_context is None:
                raise ThumbnailError("no decoder for the video codec")
            return stream
    raise ThumbnailError("no video stream")


def _decode_keyframe(container: InputContainer, stream: VideoStream, thread_type: str, threads: int) -> VideoFrame | None:
    """Feeds packets until a keyframe comes out; drains right after each keyframe packet.

    Draining matters: with B-frames the decoder holds a frame back until later
    packets arrive, and a 2 s segment may have no later keyframe to push it out.
    A damaged keyframe yields nothing or a corrupt frame; then the next one is tried.
    """
    decoder = stream.codec_context
    decoder.skip_frame = "NONKEY"
    decoder.thread_type = thread_type
    decoder.thread_count = threads
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        frame = _clean(decoder.decode(packet))
        if frame is None and packet.is_keyframe:
            frame = _clean(decoder.decode(None))
            decoder.flush_buffers()  # leave draining mode: a later keyframe can still decode
        if frame is not None:
            return frame
    return _clean(decoder.decode(None))


def _clean(frames: list[av.VideoFrame]) -> VideoFrame | None:
    """The first frame the decoder did not have to patch up (concealed errors, missing references)."""
    for frame in frames:
        if not frame.is_corrupt:
            return frame
    return None


def _square_if_unknown(sar: Fraction | None) -> Fraction:
    """FFmpeg reports an unknown pixel aspect as 0/1 or None: treat it as square."""
    return Fraction(sar) if sar and sar > 0 else Fraction(1)


def _seconds(pts: int | None, time_base: Fraction) -> float:
    """Presentation time in seconds; 0.0 if the container carried none (MPEG-TS always does)."""
    return float(pts * time_base) if pts is not None else 0.0


# --- step 3: scale --------------------------------------------------------------------


def _thumbnail_size(frame: VideoFrame, sample_aspect: Fraction, width: int) -> tuple[int, int]:
    """``width`` (never more than the picture's displayed width) by the height that keeps its aspect, even."""
    display_width = max(1, round(frame.width * sample_aspect))
    out_width = min(width, display_width)
    out_height = max(2, round(frame.height * out_width / display_width / 2) * 2)
    return out_width, out_height


def _scale(frame: VideoFrame, width: int, height: int) -> VideoFrame:
    """To JPEG's own pixel format: full-range BT.601 4:2:0, one swscale thread."""
    return frame.reformat(
        width,
        height,
        _JPEG_PIX_FMT,
        dst_colorspace="ITU601",
        interpolation=_SCALE_INTERPOLATION,
        threads=1,
    )


# --- step 4: encode -------------------------------------------------------------------


def _qscale(quality: int) -> int:
    """libjpeg quality (1..100) to FFmpeg's mjpeg quantiser scale (2..31).

    libjpeg scales its base tables by S = 5000/q (q < 50) or 200 - 2q percent;
    FFmpeg's mjpeg uses MPEG-1's intra table times qscale/8. The two base tables
    match (geometric mean of the AC steps) at qscale = 0.117 * S: quality 80 -> 5.
    """
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return min(31, max(2, round(0.117 * scale)))


_encoders = threading.local()


def _encoder_cache() -> dict[tuple[int, int, int], CodecContext]:
    """Per thread: a codec context must never be used by two threads at once."""
    cache: dict[tuple[int, int, int], CodecContext] | None = getattr(_encoders, "by_key", None)
    if cache is None:
        cache = _encoders.by_key = {}
    return cache


def _encoder(width: int, height: int, qscale: int) -> CodecContext:
    """This thread's mjpeg encoder for a size and quality: opening one costs as much as encoding."""
    cache = _encoder_cache()
    key = (width, height, qscale)
    encoder = cache.get(key)
    if encoder is None:
        if len(cache) >= _MAX_CACHED_ENCODERS:
            cache.clear()
        encoder = CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = _JPEG_PIX_FMT
        encoder.time_base = Fraction(1, 1)
        encoder.qmin = encoder.qmax = qscale  # fixed quantiser: no rate control between thumbnails
        cache[key] = encoder
    return encoder


def _encode_jpeg(frame: VideoFrame, qscale: int) -> bytes:
    """One JPEG; an encoder that failed is dropped, never reused in an unknown state."""
    key = (frame.width, frame.height, qscale)
    encoder = _encoder(*key)
    # The encoder refuses a timestamp not above its last one ("Invalid pts (0) <= last (0)"). PyAV
    # rescales a frame's pts from the frame's time base (the decoder's 1/90000) to the encoder's
    # (1/1), which turned small or missing values into 0 every time: count in the encoder's own
    # time base instead, per thread (the encoders are per thread).
    _encoders.pts = getattr(_encoders, "pts", 0) + 1
    frame.time_base = encoder.time_base
    frame.pts = _encoders.pts
    try:
        packets = encoder.encode(frame)
    except av.FFmpegError:
        _encoder_cache().pop(key, None)
        raise
    if not packets:
        raise ThumbnailError("cannot encode the keyframe: the JPEG encoder returned nothing")
    return bytes(packets[0])
