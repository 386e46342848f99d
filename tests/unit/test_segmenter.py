"""Segmenter tests on real encoded footage: every check decodes with PyAV, nothing is mocked."""

from __future__ import annotations

import functools
import io
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest
from av.bitstream import BitStreamFilterContext

from producers.segmenter import Segment, SegmenterError, segment_source
from producers.testsrc import TestsrcOptions, write_test_file

FPS = 25
SECONDS = 7
FRAME = 1 / FPS
PARAMETER_SETS = {"h264": {7, 8}, "hevc": {32, 33, 34}}  # SPS+PPS; VPS+SPS+PPS


# --- helpers: read segments and sources back ------------------------------------------


@dataclass
class Decoded:
    """What a segment holds once decoded on its own."""

    first_packet_keyframe: bool
    first_packet: bytes
    frame_pts: list[int]  # presentation times of the decoded video frames, 90 kHz
    first_frame_key: bool
    video_codec: str
    audio_codecs: list[str]
    audio_packets: list[list[int]]  # per audio track: packet pts, 90 kHz
    audio_samples: list[int]  # per audio track: decoded samples


def decode_alone(data: bytes) -> Decoded:
    """Demuxes and decodes one segment from memory, as a downstream reader would."""
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name == "mpegts"
        video = container.streams.video[0]
        audio = list(container.streams.audio)
        first: av.Packet | None = None
        frames: list[av.VideoFrame] = []
        packets: dict[int, list[int]] = {s.index: [] for s in audio}
        samples: dict[int, int] = {s.index: 0 for s in audio}
        for packet in container.demux(video, *audio):
            if packet.stream is video:
                if first is None and packet.size:
                    first = packet
                    first_bytes = bytes(packet)
                frames.extend(packet.decode())
            else:
                if packet.pts is not None:
                    packets[packet.stream.index].append(packet.pts)
                samples[packet.stream.index] += sum(f.samples for f in packet.decode())
    assert first is not None and frames
    return Decoded(
        first_packet_keyframe=first.is_keyframe,
        first_packet=first_bytes,
        frame_pts=[f.pts for f in frames],
        first_frame_key=frames[0].key_frame,
        video_codec=video.codec_context.name,
        audio_codecs=[s.codec_context.name for s in audio],
        audio_packets=list(packets.values()),
        audio_samples=list(samples.values()),
    )


def nal_units_annexb(data: bytes) -> list[bytes]:
    """Splits an Annex B payload on start codes (they cannot occur inside a NAL unit)."""
    units = []
    for chunk in data.split(b"\x00\x00\x01")[1:]:
        units.append(chunk.rstrip(b"\x00"))  # a NAL unit never ends in 0x00; a 4-byte start code leaves one
    return [u for u in units if u]


def nal_units_length_prefixed(data: bytes, size: int = 4) -> list[bytes]:
    units, position = [], 0
    while position < len(data):
        length = int.from_bytes(data[position : position + size], "big")
        units.append(data[position + size : position + size + length])
        position += size + length
    return units


def nal_type(unit: bytes, codec: str) -> int:
    return unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F


def is_slice(unit: bytes, codec: str) -> bool:
    kind = nal_type(unit, codec)
    return 1 <= kind <= 5 if codec == "h264" else kind < 32


def source_video(path: Path) -> tuple[int, list[bytes]]:
    """Frame count and every coded slice (bytes as stored) of a file's video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        slices = [
            unit
            for packet in container.demux(stream)
            if packet.size
            for unit in nal_units_length_prefixed(bytes(packet))
            if is_slice(unit, codec)
        ]
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    return frames, slices


def segment_slices(segments: list[Segment], codec: str) -> list[bytes]:
    slices = []
    for segment in segments:
        with av.open(io.BytesIO(segment.data)) as container:
            for packet in container.demux(video=0):
                if packet.size:
                    slices += [u for u in nal_units_annexb(bytes(packet)) if is_slice(u, codec)]
    return slices


def source_audio_packets(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        counts = {s.index: 0 for s in container.streams.audio}
        for packet in container.demux(*container.streams.audio):
            if packet.size:
                counts[packet.stream.index] += 1
    return list(counts.values())


def has_parameter_sets(first_packet: bytes, codec: str) -> bool:
    types = {nal_type(u, codec) for u in nal_units_annexb(first_packet)}
    return PARAMETER_SETS[codec] <= types


# --- fixtures: one real recording, segmented once ---------------------------------------


@pytest.fixture(scope="module")
def h264_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """7 s, 320x240, 25 fps, 1 s GOP, B-frames, and two AAC tracks (a camera with two microphones)."""
    path = tmp_path_factory.mktemp("src") / "camera.mp4"
    write_test_file(path, SECONDS, fps=FPS, gop_seconds=1.0, audio_tracks=2)
    return path


@pytest.fixture(scope="module")
def h264_segments(h264_mp4: Path) -> list[Segment]:
    return list(segment_source(str(h264_mp4), 2.0))


@pytest.fixture(scope="module")
def h264_decoded(h264_segments: list[Segment]) -> list[Decoded]:
    return [decode_alone(s.data) for s in h264_segments]


# --- remux of H.264 from MP4 -----------------------------------------------------------------


def test_cuts_at_the_first_keyframe_after_each_boundary(h264_segments: list[Segment]) -> None:
    assert [s.index for s in h264_segments] == [0, 1, 2, 3]
    assert [s.start for s in h264_segments] == pytest.approx([0.0, 2.0, 4.0, 6.0])
    assert [s.duration for s in h264_segments] == pytest.approx([2.0, 2.0, 2.0, 1.0])
    assert sum(s.duration for s in h264_segments) == pytest.approx(SECONDS, abs=FRAME)
    assert {(s.codec, s.width, s.height, s.fps) for s in h264_segments} == {("h264", 320, 240, 25.0)}


def test_every_segment_starts_with_a_keyframe_and_its_parameter_sets(h264_decoded: list[Decoded]) -> None:
    for decoded in h264_decoded:
        assert decoded.first_packet_keyframe
        assert has_parameter_sets(decoded.first_packet, "h264")
        assert decoded.first_frame_key


def test_segments_decode_alone_and_lose_no_frame(h264_mp4: Path, h264_decoded: list[Decoded]) -> None:
    frames, _ = source_video(h264_mp4)
    assert [len(d.frame_pts) for d in h264_decoded] == [50, 50, 50, 25]
    assert sum(len(d.frame_pts) for d in h264_decoded) == frames == SECONDS * FPS


def test_segments_keep_the_source_timeline(h264_segments: list[Segment], h264_decoded: list[Decoded]) -> None:
    """Consecutive segments line up, so a player or an export can join them."""
    base = h264_decoded[0].frame_pts[0]
    for segment, decoded in zip(h264_segments, h264_decoded, strict=True):
        assert (decoded.frame_pts[0] - base) / 90_000 == pytest.approx(segment.start)


def test_segments_join_back_into_the_recording(h264_mp4: Path, h264_segments: list[Segment]) -> None:
    """Concatenated, the segments play as one stream: no frame or audio packet repeated, lost or reordered."""
    joined = b"".join(s.data for s in h264_segments)
    with av.open(io.BytesIO(joined)) as container:
        frame_pts = [f.pts for f in container.decode(video=0)]
    with av.open(io.BytesIO(joined)) as container:
        audio_pts = [p.pts for p in container.demux(audio=0) if p.size]
    assert len(frame_pts) == SECONDS * FPS and frame_pts == sorted(set(frame_pts))
    assert len(audio_pts) == source_audio_packets(h264_mp4)[0] and audio_pts == sorted(set(audio_pts))


def test_every_audio_packet_of_every_track_is_kept(h264_mp4: Path, h264_decoded: list[Decoded]) -> None:
    for decoded in h264_decoded:
        assert decoded.audio_codecs == ["aac", "aac"]
        assert all(samples > 0 for samples in decoded.audio_samples)
    kept = [sum(len(d.audio_packets[track]) for d in h264_decoded) for track in range(2)]
    assert kept == source_audio_packets(h264_mp4)


def test_audio_goes_with_the_video_it_plays_over(h264_segments: list[Segment], h264_decoded: list[Decoded]) -> None:
    for segment, decoded in list(zip(h264_segments, h264_decoded, strict=True))[1:]:
        begin = decoded.frame_pts[0]
        end = begin + segment.duration * 90_000
        for track in decoded.audio_packets:
            assert all(begin <= pts < end for pts in track)


def test_remux_copies_every_coded_slice_bit_for_bit(h264_mp4: Path, h264_segments: list[Segment]) -> None:
    """Only the framing changes (length prefixes to start codes): no re-encoding."""
    _, slices = source_video(h264_mp4)
    assert segment_slices(h264_segments, "h264") == slices


# --- other sources -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hevc_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "hevc.mp4"
    write_test_file(path, 5, fps=FPS, codec="hevc")
    return path


def test_hevc_is_remuxed_too(hevc_mp4: Path) -> None:
    segments = list(segment_source(str(hevc_mp4), 2.0))
    decoded = [decode_alone(s.data) for s in segments]
    frames, slices = source_video(hevc_mp4)
    assert [s.codec for s in segments] == ["hevc"] * 3
    assert [s.duration for s in segments] == pytest.approx([2.0, 2.0, 1.0])
    assert all(d.first_packet_keyframe and has_parameter_sets(d.first_packet, "hevc") for d in decoded)
    assert all(d.video_codec == "hevc" and d.first_frame_key and d.audio_codecs == ["aac"] for d in decoded)
    assert sum(len(d.frame_pts) for d in decoded) == frames
    assert segment_slices(segments, "hevc") == slices


def test_a_codec_ts_should_not_carry_is_transcoded_to_h264(tmp_path: Path) -> None:
    path = tmp_path / "mpeg4.mp4"
    write_test_file(path, 4, fps=FPS, codec="mpeg4", gop_seconds=0.6)  # source GOP unrelated to segments
    segments = list(segment_source(str(path), 2.0))
    decoded = [decode_alone(s.data) for s in segments]
    assert [(s.codec, s.width, s.height) for s in segments] == [("h264", 320, 240)] * 2
    assert [s.duration for s in segments] == pytest.approx([2.0, 2.0])
    assert all(d.video_codec == "h264" and d.first_packet_keyframe and d.first_frame_key for d in decoded)
    assert sum(len(d.frame_pts) for d in decoded) == 4 * FPS
    assert all(d.audio_codecs == ["aac"] for d in decoded)


def test_audio_ts_cannot_carry_becomes_aac_on_every_track(tmp_path: Path) -> None:
    path = tmp_path / "pcm.mkv"
    write_test_file(path, 3, fps=FPS, container="mkv", audio_codec="pcm_s16le", audio_tracks=2)
    segments = list(segment_source(str(path), 2.0))
    decoded = [decode_alone(s.data) for s in segments]
    assert all(d.audio_codecs == ["aac", "aac"] for d in decoded)
    for track in range(2):
        samples = sum(d.audio_samples[track] for d in decoded)
        assert samples == pytest.approx(3 * 48_000, abs=2 * 1024)  # AAC adds priming and padding only


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_annex_b_source_gets_parameter_sets_on_every_keyframe(
    codec: str, h264_mp4: Path, hevc_mp4: Path, tmp_path: Path
) -> None:
    """Like RTSP cameras that send SPS/PPS once: every segment must still decode alone."""
    path = tmp_path / "sparse.ts"
    source = h264_mp4 if codec == "h264" else hevc_mp4
    write_ts_with_parameter_sets_once(source, path, codec)
    frames, _ = source_video(source)
    segments = list(segment_source(str(path), 2.0))
    decoded = [decode_alone(s.data) for s in segments]
    assert len(segments) > 2
    assert all(has_parameter_sets(d.first_packet, codec) and d.first_frame_key for d in decoded)
    assert sum(len(d.frame_pts) for d in decoded) == frames


def write_ts_with_parameter_sets_once(mp4: Path, out_path: Path, codec: str) -> None:
    """An Annex B TS whose parameter sets come only before the first keyframe."""
    with av.open(str(mp4)) as source, av.open(str(out_path), "w", format="mpegts") as out:
        video = source.streams.video[0]
        stream = out.add_stream_from_template(video)
        annexb = BitStreamFilterContext(f"{codec}_mp4toannexb", video, stream)
        stream.codec_context.extradata = None  # else FFmpeg's TS muxer puts H.264 SPS/PPS back
        seen_keyframe = False
        for packet in source.demux(video):
            for converted in annexb.filter(packet) if packet.size else annexb.filter(None):
                data = bytes(converted)
                if converted.is_keyframe and seen_keyframe:
                    units = [u for u in nal_units_annexb(data) if nal_type(u, codec) not in PARAMETER_SETS[codec]]
                    data = b"".join(b"\x00\x00\x00\x01" + u for u in units)
                seen_keyframe |= converted.is_keyframe
                rewritten = av.Packet(data)
                rewritten.pts, rewritten.dts, rewritten.time_base = converted.pts, converted.dts, converted.time_base
                rewritten.is_keyframe = converted.is_keyframe
                rewritten.stream = stream
                out.mux(rewritten)


def test_testsrc_makes_two_second_segments_with_audio() -> None:
    options = TestsrcOptions(label="cam-1")
    segments = list(segment_source("testsrc", 2.0, max_seconds=4, testsrc_options=options))
    assert len(segments) == 2
    assert [s.duration for s in segments] == pytest.approx([2.0, 2.0])
    assert {(s.codec, s.width, s.height, s.fps) for s in segments} == {("h264", 640, 360, 15.0)}
    for segment in segments:
        decoded = decode_alone(segment.data)
        assert decoded.first_packet_keyframe and decoded.first_frame_key
        assert has_parameter_sets(decoded.first_packet, "h264")
        assert len(decoded.frame_pts) == 30
        assert decoded.audio_codecs == ["aac"] and decoded.audio_samples[0] > 0
        # ~1 Mbit/s, as asked: a camera-like load on the bus, not a trickle
        assert 100_000 < len(segment.data) < 400_000


def test_max_seconds_cuts_a_file(h264_mp4: Path) -> None:
    segments = list(segment_source(str(h264_mp4), 2.0, max_seconds=3))
    decoded = [decode_alone(s.data) for s in segments]
    assert [s.duration for s in segments] == pytest.approx([2.0, 1.0])
    assert sum(len(d.frame_pts) for d in decoded) == 3 * FPS
    end = decoded[0].frame_pts[0] + 3 * 90_000
    assert all(pts < end for d in decoded for track in d.audio_packets for pts in track)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server over a temporary folder: (base URL, folder)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    thread.join()


def test_an_http_stream_is_segmented_up_to_max_seconds(http_dir: tuple[str, Path]) -> None:
    base_url, folder = http_dir
    write_test_file(folder / "live.ts", 5, fps=FPS, container="ts")
    segments = list(segment_source(f"{base_url}/live.ts", 2.0, max_seconds=3))
    decoded = [decode_alone(s.data) for s in segments]
    assert [s.duration for s in segments] == pytest.approx([2.0, 1.0])
    assert all(d.first_frame_key and d.audio_codecs == ["aac"] for d in decoded)
    assert sum(len(d.frame_pts) for d in decoded) == 3 * FPS


# --- errors -----------------------------------------------------------------------------------


def write_audio_only(path: Path) -> None:
    write_test_file(path, 1, fps=FPS)  # then keep only its audio
    with av.open(str(path)) as source, av.open(str(path.with_suffix(".m4a")), "w", format="mp4") as out:
        audio = source.streams.audio[0]
        stream = out.add_stream_from_template(audio)
        for packet in source.demux(audio):
            if packet.size:
                packet.stream = stream
                out.mux(packet)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.mp4", "no such file"),
        ("notes.txt", "not a video file"),
        ("noise.mp4", "not a video file"),
        ("voice.m4a", "no video stream"),
    ],
)
def test_bad_sources_raise_a_one_line_error(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    if name == "notes.txt":
        path.write_text("Officer's notes, not video.\n" * 20)
    elif name == "noise.mp4":
        path.write_bytes(bytes(range(256)) * 400)
    elif name == "voice.m4a":
        write_audio_only(tmp_path / "with_video.mp4")
        (tmp_path / "with_video.m4a").rename(path)
    with pytest.raises(SegmenterError) as caught:
        list(segment_source(str(path)))
    message = str(caught.value)
    assert expected in message and name in message and "\n" not in message
    printed = "".join(traceback.format_exception(caught.value))
    assert "av.error" not in printed and "During handling" not in printed


def test_url_errors_are_clear_and_keep_passwords_out(http_dir: tuple[str, Path]) -> None:
    base_url, _ = http_dir
    with pytest.raises(SegmenterError, match="404"):
        segment_source(f"{base_url}/missing.ts")
    with pytest.raises(SegmenterError) as caught:
        segment_source("rtsp://officer:s3cret@127.0.0.1:1/stream")  # nothing listens on port 1
    assert "s3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="segment_seconds"):
        segment_source("testsrc", 0)
    with pytest.raises(ValueError, match="max_seconds"):
        segment_source("testsrc", 2.0, max_seconds=-1)
