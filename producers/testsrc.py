"""Synthetic camera: a picture with a burned-in clock, a tone with beeps, encoded live.

Why synthetic: the pipeline needs footage everywhere (tests, benchmarks, the local
stack's simulated fleet) without shipping video files. The picture is built so a
human can check the pipeline by eye: the burned-in clock shows each frame's capture
time (UTC) and frame number, so a gap, a repeat or a reordering is visible; the
audio beeps once per elapsed second, in step with the clock, so lost or shifted
audio is audible. A textured background pans like a walking officer's camera, so
the encoder spends a realistic bitrate instead of coasting on a static picture.

Frames are drawn directly in YUV 4:2:0 with numpy (no fonts, no colour
conversion) from precomputed planes, so drawing costs far less than encoding.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

AUDIO_RATE = 48_000
AUDIO_FRAME_SAMPLES = 1024  # what the AAC encoder consumes per frame
AUDIO_BITRATE_PER_CHANNEL = 64_000
VIDEO_TRACK = 0
AUDIO_TRACK = 1

# A fixed start makes write_test_file reproducible (same clock in every run).
_FILE_CLOCK_START = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)

# Encoder names for the codecs write_test_file accepts by their common name.
_VIDEO_ENCODERS = {"h264": "libx264", "hevc": "libx265", "h265": "libx265", "vp9": "libvpx-vp9"}
_AUDIO_ENCODERS = {"mp3": "libmp3lame", "opus": "libopus"}
_CONTAINER_FORMATS = {"mkv": "matroska", "ts": "mpegts", "m4a": "mp4"}


@dataclass(frozen=True)
class TestsrcOptions:
    """What the synthetic camera produces; defaults match a modest body-worn camera."""

    __test__ = False  # not a pytest test class, despite the name

    width: int = 640
    height: int = 360
    fps: int = 15
    bitrate: int = 1_000_000  # bits/s
    audio: bool = True
    label: str = ""  # e.g. camera id, drawn small under the clock

    def __post_init__(self) -> None:
        # 4:2:0 needs even dimensions; fail here, not deep inside the encoder.
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise ValueError(f"testsrc size must be even and at least 64x64, got {self.width}x{self.height}")
        if not 1 <= self.fps <= 120:
            raise ValueError(f"testsrc fps must be 1..120, got {self.fps}")
        if self.bitrate < 50_000:
            raise ValueError(f"testsrc bitrate must be at least 50000 bit/s, got {self.bitrate}")


@dataclass(frozen=True)
class TestsrcStreams:
    """Encoder streams (templates for muxing) and the packets they produce, in capture order.

    Each packet comes as ``(track, packet)``: track 0 is video, 1 is audio.
    """

    __test__ = False

    video: VideoStream
    audio: AudioStream | None
    packets: Iterator[tuple[int, av.Packet]]


# --- drawing ------------------------------------------------------------------

# A 3x5 bitmap font: enough for a clock and a camera id, and needs no font files.
# fmt: off
_FONT_ROWS = {
    "0": "### #.# #.# #.# ###", "1": ".#. ##. .#. .#. ###", "2": "### ..# ### #.. ###",
    "3": "### ..# .## ..# ###", "4": "#.# #.# ### ..# ..#", "5": "### #.. ### ..# ###",
    "6": "### #.. ### #.# ###", "7": "### ..# ..# .#. .#.", "8": "### #.# ### #.# ###",
    "9": "### #.# ### ..# ###", ":": "... .#. ... .#. ...", ".": "... ... ... ... .#.",
    "-": "... ... ### ... ...", "+": "... .#. ### .#. ...", "/": "..# ..# .#. #.. #..",
    "_": "... ... ... ... ###", " ": "... ... ... ... ...",
    "A": ".#. #.# ### #.# #.#", "B": "##. #.# ##. #.# ##.", "C": ".## #.. #.. #.. .##",
    "D": "##. #.# #.# #.# ##.", "E": "### #.. ##. #.. ###", "F": "### #.. ##. #.. #..",
    "G": ".## #.. #.# #.# .##", "H": "#.# #.# ### #.# #.#", "I": "### .#. .#. .#. ###",
    "J": "..# ..# ..# #.# .#.", "K": "#.# #.# ##. #.# #.#", "L": "#.. #.. #.. #.. ###",
    "M": "#.# ### ### #.# #.#", "N": "##. #.# #.# #.# #.#", "O": ".#. #.# #.# #.# .#.",
    "P": "##. #.# ##. #.. #..", "Q": ".#. #.# #.# ##. .##", "R": "##. #.# ##. #.# #.#",
    "S": ".## #.. .#. ..# ##.", "T": "### .#. .#. .#. .#.", "U": "#.# #.# #.# #.# ###",
    "V": "#.# #.# #.# #.# .#.", "W": "#.# #.# ### ### #.#", "X": "#.# #.# .#. #.# #.#",
    "Y": "#.# #.# .#. .#. .#.", "Z": "### ..# .#. #.. ###",
}
# fmt: on
_UNKNOWN_GLYPH = "### ### ### ### ###"


@lru_cache(maxsize=512)
def _glyph(char: str, scale: int) -> np.ndarray:
    """Boolean mask of one character at ``scale`` pixels per font dot (cached: drawn every frame)."""
    rows = _FONT_ROWS.get(char.upper(), _UNKNOWN_GLYPH).split()
    dots = np.array([[c == "#" for c in row] for row in rows], dtype=bool)
    return np.repeat(np.repeat(dots, scale, axis=0), scale, axis=1)


def _text_size(text: str, scale: int) -> tuple[int, int]:
    """(height, width) in pixels of ``text`` drawn by :func:`_draw_text`."""
    return 5 * scale, max(0, len(text) * 4 * scale - scale)


def _draw_text(plane: np.ndarray, text: str, top: int, left: int, scale: int, value: int) -> None:
    """Burns ``text`` into a luma plane; characters that would cross the edge are left out."""
    x = left
    for char in text:
        mask = _glyph(char, scale)
        height, width = mask.shape
        if top + height > plane.shape[0] or x + width > plane.shape[1]:
            return
        plane[top : top + height, x : x + width][mask] = value
        x += width + scale


def _triangle(position: float, span: int) -> int:
    """Bounces ``position`` back and forth in [0, span]: smooth motion that never leaves the frame."""
    if span <= 0:
        return 0
    phase = position % (2 * span)
    return int(phase if phase <= span else 2 * span - phase)


class _Scene:
    """Draws frame ``i``: panning textured background, a bouncing box, the clock and label."""

    def __init__(self, width: int, height: int, fps: float, clock_start: datetime, label: str) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.clock_start = clock_start
        self.label = label.upper()
        self._pan_span = (width // 4) & ~1
        self._background = self._make_background(width + self._pan_span, height)
        self._frame = np.empty((height * 3 // 2, width), dtype=np.uint8)
        self._scale = max(2, height // 60)
        self._box = max(8, (height // 6) & ~1)

    @staticmethod
    def _make_background(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient plus a fixed blocky texture (seeded: every run looks the same).

        Texture is what makes panning cost bits, like real scenery does.
        """
        rng = np.random.default_rng(20240101)
        block = 8
        coarse = rng.integers(-28, 29, size=(height // block + 1, width // block + 1))
        texture = np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)[:height, :width]
        fine = rng.integers(-6, 7, size=(height, width))
        rows = np.linspace(60, 170, height)[:, None]
        cols = np.linspace(-20, 20, width)[None, :]
        luma = np.clip(rows + cols + texture + fine, 16, 235).astype(np.uint8)
        chroma_rows = np.linspace(110, 140, height // 2)[:, None]
        chroma_cols = np.linspace(-12, 12, width // 2)[None, :]
        cb = np.clip(chroma_rows + chroma_cols, 16, 240).astype(np.uint8)
        cr = np.clip(250 - chroma_rows - chroma_cols, 16, 240).astype(np.uint8)
        return luma, cb, cr

    def render(self, index: int) -> av.VideoFrame:
        """The frame captured at ``index / fps`` seconds after the clock start."""
        seconds = index / self.fps
        width, height = self.width, self.height
        luma = self._frame[:height]
        chroma = self._frame[height:].reshape(2, height // 2, width // 2)
        pan = _triangle(seconds * width / 8, self._pan_span) & ~1
        bg_luma, bg_cb, bg_cr = self._background
        luma[:] = bg_luma[:, pan : pan + width]
        chroma[0] = bg_cb[:, pan // 2 : pan // 2 + width // 2]
        chroma[1] = bg_cr[:, pan // 2 : pan // 2 + width // 2]
        self._draw_box(luma, chroma, seconds)
        self._draw_clock(luma, chroma, index, seconds)
        return av.VideoFrame.from_ndarray(self._frame, format="yuv420p")

    def _draw_box(self, luma: np.ndarray, chroma: np.ndarray, seconds: float) -> None:
        size = self._box
        x = _triangle(seconds * self.width / 3, self.width - size) & ~1
        y = _triangle(seconds * self.height / 2, self.height - size) & ~1
        luma[y : y + size, x : x + size] = 150
        chroma[0, y // 2 : (y + size) // 2, x // 2 : (x + size) // 2] = 60
        chroma[1, y // 2 : (y + size) // 2, x // 2 : (x + size) // 2] = 210

    def _draw_clock(self, luma: np.ndarray, chroma: np.ndarray, index: int, seconds: float) -> None:
        """UTC capture time to the centisecond, then label and frame number, on a dark plate."""
        at = self.clock_start + timedelta(seconds=seconds)
        clock = at.strftime("%H:%M:%S.") + f"{at.microsecond // 10_000:02d}"
        caption = f"{self.label} F{index:07d}".strip()
        scale, small = self._scale, max(1, self._scale // 2)
        margin = scale * 2
        clock_h, clock_w = _text_size(clock, scale)
        caption_h, caption_w = _text_size(caption, small)
        plate_h = min(self.height, clock_h + caption_h + 3 * margin) & ~1
        plate_w = min(self.width, max(clock_w, caption_w) + 2 * margin + 1) & ~1
        luma[:plate_h, :plate_w] = 16
        chroma[:, : plate_h // 2, : plate_w // 2] = 128
        _draw_text(luma, clock, margin, margin, scale, 235)
        _draw_text(luma, caption, 2 * margin + clock_h, margin, small, 200)


class _Tone:
    """A quiet continuous tone with a louder 100 ms beep at every whole second of capture time.

    The waveform repeats exactly every 8 s (8 s * 48 kHz is a multiple of the
    1024-sample AAC frame, and both tones complete whole cycles each second), so
    it is computed once and sliced; producing audio then costs almost nothing.
    """

    _PERIOD_SECONDS = 8

    def __init__(self, tone_hz: float = 440.0, beep_hz: float = 1000.0) -> None:
        t = np.arange(AUDIO_RATE * self._PERIOD_SECONDS) / AUDIO_RATE
        wave = 0.08 * np.sin(2 * np.pi * tone_hz * t)
        beeping = (t % 1.0) < 0.1
        wave[beeping] += 0.3 * np.sin(2 * np.pi * beep_hz * t[beeping])
        self._wave = wave.astype(np.float32)

    def frame(self, first_sample: int) -> av.AudioFrame:
        """The 1024 mono samples starting at ``first_sample`` (capture time * 48 kHz)."""
        start = first_sample % len(self._wave)
        samples = self._wave[start : start + AUDIO_FRAME_SAMPLES]
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = first_sample
        return frame


# --- live encoding (the simulated camera) ---------------------------------------


def _open_video_encoder(holder: av.container.OutputContainer, options: TestsrcOptions, keyint: int) -> VideoStream:
    """libx264 as a camera would use it: fixed GOP, no scene cuts, bitrate-capped, no lookahead.

    keyint = fps * segment_seconds puts a keyframe exactly where every segment
    starts. zerolatency drops lookahead and B-frames, so frames come out as they
    go in; ultrafast keeps four cameras well under one core each.
    """
    stream = holder.add_stream(
        "libx264", rate=options.fps, width=options.width, height=options.height, time_base=Fraction(1, options.fps)
    )
    kbps = options.bitrate // 1000
    stream.codec_context.bit_rate = options.bitrate
    stream.codec_context.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:vbv-maxrate={kbps}:vbv-bufsize={kbps}",
    }
    stream.codec_context.open()
    return stream


def _open_audio_encoder(holder: av.container.OutputContainer) -> AudioStream:
    """Mono AAC, opened now so its extradata (AudioSpecificConfig, needed for ADTS in TS) exists up front."""
    stream = holder.add_stream("aac", rate=AUDIO_RATE, layout="mono", time_base=Fraction(1, AUDIO_RATE))
    stream.codec_context.bit_rate = AUDIO_BITRATE_PER_CHANNEL * stream.codec_context.channels
    stream.codec_context.open()
    return stream


def _frame_count(fps: float, seconds: float | None) -> int | None:
    """Frames that fit in ``seconds`` (tolerant of float error such as 4 * 15 = 59.999...)."""
    return None if seconds is None else max(0, math.ceil(seconds * fps - 1e-6))


def _capture(
    scene: _Scene,
    tone: _Tone | None,
    video: VideoStream,
    audio: AudioStream | None,
    frames: int | None,
) -> Iterator[tuple[int, av.Packet]]:
    """Encodes frame after frame, with the audio up to each frame's end, so packets come out interleaved."""
    audio_sample = 0
    for index in itertools.count() if frames is None else range(frames):
        frame = scene.render(index)
        frame.pts = index
        for packet in video.encode(frame):
            yield VIDEO_TRACK, packet
        if tone is not None and audio is not None:
            frame_end = (index + 1) * AUDIO_RATE // scene.fps
            while audio_sample < frame_end:
                for packet in audio.encode(tone.frame(audio_sample)):
                    yield AUDIO_TRACK, packet
                audio_sample += AUDIO_FRAME_SAMPLES
    for packet in video.encode(None):
        yield VIDEO_TRACK, packet
    if audio is not None:
        for packet in audio.encode(None):
            yield AUDIO_TRACK, packet


def testsrc_packets(
    options: TestsrcOptions, max_seconds: float | None, *, segment_seconds: float = 2.0
) -> TestsrcStreams:
    """Starts a synthetic camera: encoded packets on demand, forever unless ``max_seconds``.

    The clock shows wall-clock time at the start plus each frame's capture
    offset, which is what the producer stamps as capture time.
    """
    keyint = max(1, math.ceil(options.fps * segment_seconds - 1e-9))  # segments never shorter than asked
    # Encoders need a stream to belong to; this container is never written, its
    # streams only serve as templates for the per-segment TS files.
    holder = av.open(io.BytesIO(), "w", format="mpegts")
    video = _open_video_encoder(holder, options, keyint)
    audio = _open_audio_encoder(holder) if options.audio else None
    scene = _Scene(options.width, options.height, options.fps, datetime.now(UTC), options.label)
    tone = _Tone() if options.audio else None
    packets = _capture(scene, tone, video, audio, _frame_count(options.fps, max_seconds))
    return TestsrcStreams(video=video, audio=audio, packets=packets)


# --- test files -----------------------------------------------------------------


def _add_file_video_stream(
    out: av.container.OutputContainer,
    codec: str,
    width: int,
    height: int,
    fps: int,
    keyint: int,
    bitrate: int | None,
) -> VideoStream:
    """A video stream configured like a real recorder's: fixed GOP, closed GOPs, B-frames where usual."""
    encoder = _VIDEO_ENCODERS.get(codec, codec)
    stream = out.add_stream(encoder, rate=fps, width=width, height=height)
    if bitrate:
        stream.codec_context.bit_rate = bitrate
    gop = f"keyint={keyint}:min-keyint={keyint}:scenecut=0"
    if encoder == "libx264":
        stream.codec_context.options = {"preset": "veryfast", "x264-params": gop}
    elif encoder == "libx265":
        # open-gop=0: a segment must decode alone, which CRA + leading pictures prevent.
        stream.codec_context.options = {"preset": "ultrafast", "x265-params": f"{gop}:open-gop=0:log-level=error"}
    else:
        stream.codec_context.gop_size = keyint
        if codec == "mjpeg":
            stream.codec_context.pix_fmt = "yuvj420p"
    return stream


class _FileAudioTrack:
    """One audio track of a test file: tone -> (resample to the encoder's format) -> encoder."""

    def __init__(self, out: av.container.OutputContainer, codec: str, tone: _Tone) -> None:
        self.stream = out.add_stream(_AUDIO_ENCODERS.get(codec, codec), rate=AUDIO_RATE, layout="mono")
        self.stream.codec_context.open()  # frame_size is only known once open (1024 AAC, 1152 MP3, 0 PCM)
        context = self.stream.codec_context
        self._resampler = av.AudioResampler(
            format=context.format, layout="mono", rate=AUDIO_RATE, frame_size=context.frame_size or None
        )
        self._tone = tone
        self._samples = 0

    def encode_until(self, sample: int) -> list[av.Packet]:
        """Packets for the tone up to capture time ``sample / 48 kHz``."""
        packets: list[av.Packet] = []
        while self._samples < sample:
            for frame in self._resampler.resample(self._tone.frame(self._samples)):
                packets.extend(self.stream.encode(frame))
            self._samples += AUDIO_FRAME_SAMPLES
        return packets

    def flush(self) -> list[av.Packet]:
        packets: list[av.Packet] = []
        for frame in self._resampler.resample(None):
            packets.extend(self.stream.encode(frame))
        return packets + list(self.stream.encode(None))


def write_test_file(
    path: str | Path,
    seconds: float,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    gop_seconds: float = 1.0,
    audio: bool = True,
    container: str = "mp4",
    codec: str = "h264",
    bitrate: int | None = None,
    audio_codec: str = "aac",
    audio_tracks: int = 1,
) -> None:
    """Writes a real encoded test file (H.264 or HEVC video + AAC audio) for tests and benchmarks.

    ``codec`` also takes any PyAV encoder name (``mpeg4``, ``mjpeg``...) to exercise the
    transcode path, and ``audio_codec`` one TS cannot carry (``pcm_s16le``, ``flac``) to
    exercise audio transcoding. ``bitrate`` None means constant quality. Each of
    ``audio_tracks`` has its own pitch, so tracks can be told apart by ear.
    """
    frames = _frame_count(fps, seconds) or 0
    keyint = max(1, round(fps * gop_seconds))
    scene = _Scene(width, height, fps, _FILE_CLOCK_START, "TEST")
    with av.open(str(path), "w", format=_CONTAINER_FORMATS.get(container, container)) as out:
        video = _add_file_video_stream(out, codec, width, height, fps, keyint, bitrate)
        pix_fmt = video.codec_context.pix_fmt
        pitches = [440.0 * (k + 1) for k in range(audio_tracks if audio else 0)]
        tracks = [_FileAudioTrack(out, audio_codec, _Tone(tone_hz=pitch)) for pitch in pitches]
        for index in range(frames):
            frame = scene.render(index)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame if pix_fmt == "yuv420p" else frame.reformat(format=pix_fmt)))
            for track in tracks:
                out.mux(track.encode_until((index + 1) * AUDIO_RATE // fps))
        out.mux(video.encode(None))
        for track in tracks:
            out.mux(track.flush())
