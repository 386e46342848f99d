"""Stored MPEG-TS segments to one MP4: packets copied, framing converted, every track kept."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from consumers.remux import RemuxError, remux_to_mp4
from producers.segmenter import segment_source
from producers.testsrc import write_test_file


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("remux")


def _segments(media: Path, name: str, seconds: float, **options: object) -> list[bytes]:
    source = media / f"{name}.mp4"
    write_test_file(source, seconds, width=320, height=240, fps=25, gop_seconds=1.0, **options)  # type: ignore[arg-type]
    return [s.data for s in segment_source(str(source), 2.0)]


@pytest.fixture(scope="module")
def segments(media: Path) -> list[bytes]:
    """A real 7 s H.264 + AAC recording cut into 4 TS segments."""
    found = _segments(media, "sample", 7.0, audio=True)
    assert len(found) == 4
    return found


def _ts_packets(segments: list[bytes]) -> dict[str, list[bytes]]:
    """The payload of every packet in the segments, per stream type (Annex B / ADTS framed)."""
    out: dict[str, list[bytes]] = {"video": [], "audio": []}
    for data in segments:
        with av.open(io.BytesIO(data), format="mpegts") as c:
            for p in c.demux():
                if p.size:
                    out[p.stream.type].append(bytes(p))
    return out


def _annexb_nals(data: bytes) -> list[bytes]:
    nals, i = [], 0
    starts = []
    while (j := data.find(b"\x00\x00\x01", i)) != -1:
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        nals.append(data[s:end].rstrip(b"\x00"))
    return nals


def _avcc_nals(data: bytes) -> list[bytes]:
    nals, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        nals.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return nals


def test_mp4_has_avcc_and_audio_specific_config_and_plays_whole(segments: list[bytes], media: Path) -> None:
    out = media / "out.mp4"
    report = remux_to_mp4(iter(segments), out)
    assert report.segments == 4 and not report.skipped_segments
    assert report.streams == ["video h264 320x240", "audio aac 48000 Hz"]
    assert report.duration_seconds == pytest.approx(7.0, abs=0.2)
    head = out.read_bytes()[:64]
    assert head[4:8] == b"ftyp" and b"moov" in out.read_bytes()[:4096]  # index in front: plays while loading
    with av.open(str(out)) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert video.codec_context.extradata[0] == 1  # avcC (configurationVersion 1), not Annex B start codes
        assert len(audio.codec_context.extradata) >= 2  # AudioSpecificConfig
        assert float(c.duration / 1e6) == pytest.approx(7.0, abs=0.2)
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(out)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert frames == 7 * 25
    assert samples / 48_000 == pytest.approx(7.0, abs=0.1)


def test_packets_are_copied_not_reencoded(segments: list[bytes], media: Path) -> None:
    """Same video NAL units and the same raw AAC frames, only the framing differs."""
    out = media / "copied.mp4"
    remux_to_mp4(segments, out)
    source = _ts_packets(segments)
    with av.open(str(out)) as c:
        mp4 = {"video": [], "audio": []}  # type: dict[str, list[bytes]]
        for p in c.demux():
            if p.size:
                mp4[p.stream.type].append(bytes(p))
    assert len(mp4["video"]) == len(source["video"]) and len(mp4["audio"]) == len(source["audio"])
    # Video: the picture NAL units (parameter sets may move into avcC) are identical, in order.
    pictures = lambda nals: [n for n in nals if n and n[0] & 0x1F in (1, 5)]  # noqa: E731
    assert [pictures(_avcc_nals(p)) for p in mp4["video"]] == [pictures(_annexb_nals(p)) for p in source["video"]]
    # Audio: each MP4 frame is its ADTS frame minus the 7-byte header (no CRC here).
    assert mp4["audio"] == [p[7:] for p in source["audio"]]


def test_timestamps_start_at_zero_and_only_move_forward(segments: list[bytes], media: Path) -> None:
    # The second run of the same footage restarts its clock: joined on, not overlapped.
    out = media / "twice.mp4"
    report = remux_to_mp4(segments + segments, out)
    assert report.duration_seconds == pytest.approx(14.0, abs=0.4)
    with av.open(str(out)) as c:
        for stream in (c.streams.video[0], c.streams.audio[0]):
            dts = [p.dts for p in c.demux(stream) if p.dts is not None]
            c.seek(0)
            assert dts[0] * stream.time_base == pytest.approx(0, abs=0.1)
            assert all(b > a for a, b in zip(dts, dts[1:]))


def test_every_audio_track_is_kept(media: Path) -> None:
    segments = _segments(media, "two-tracks", 4.0, audio=True, audio_tracks=2)
    out = media / "two-tracks-out.mp4"
    report = remux_to_mp4(segments, out)
    assert [s.split()[0] for s in report.streams] == ["video", "audio", "audio"]
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 2
        for k in range(2):
            c.seek(0)
            assert sum(1 for _ in c.decode(audio=k)) > 0


def test_video_without_audio(media: Path) -> None:
    segments = _segments(media, "silent", 4.0, audio=False)
    out = media / "silent-out.mp4"
    report = remux_to_mp4(segments, out)
    assert report.streams == ["video h264 320x240"] and report.packets.get("audio") is None


def test_unreadable_segments_are_skipped_and_reported(segments: list[bytes], media: Path) -> None:
    out = io.BytesIO()
    report = remux_to_mp4([b"not a segment", *segments[:2]], out)
    assert report.skipped_segments == [0] and report.segments == 2
    assert out.getvalue()[4:8] == b"ftyp"


def test_nothing_playable_is_an_error(media: Path) -> None:
    with pytest.raises(RemuxError, match="no segment"):
        remux_to_mp4([b"junk", b""], media / "nothing.mp4")
