"""Thumbnail cost per segment: streams.thumbnails against a naive PyAV cut and the ffmpeg command.

Segments are made once per run, in a temp dir, the way cameras make them: the
synthetic camera's textured, panning picture (so the encoder spends a real
bitrate) written by libx264 with a 2 s GOP, then cut by the project's segmenter.

    python -m bench thumbnails [--runs 50]

Without the ``ffmpeg`` command (Debian: ``apt-get install -y ffmpeg``) its rows
are left out and the ratio is not computed; everything else still runs.

Tables printed:
1. per segment, per method: wall median / p95 and CPU ms per thumbnail;
2. decoder threading (1080p): one caller, and two callers at once (thumbnails/s);
3. the JPEG encoder: reused per thread vs opened per call.
"""

from __future__ import annotations

import io
import os
import platform
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.codec.context import CodecContext

from producers.segmenter import segment_source
from producers.testsrc import write_test_file
from streams import thumbnails
from streams.thumbnails import first_keyframe_jpeg

WIDTH = 320
FFMPEG_COMMAND = "ffmpeg -loglevel error -i seg.ts -frames:v 1 -vf scale=320:-2 -f image2 -y out.jpg"


@dataclass(frozen=True)
class SegmentSpec:
    name: str
    codec: str
    width: int
    height: int
    bitrate: int


SPECS = [
    SegmentSpec("1080p h264", "h264", 1920, 1080, 4_000_000),
    SegmentSpec("720p h264", "h264", 1280, 720, 2_500_000),
    SegmentSpec("1080p hevc", "hevc", 1920, 1080, 3_000_000),  # only if the wheel has libx265
]
TINY_SPECS = [SegmentSpec("180p h264", "h264", 320, 180, 400_000)]  # smoke test: seconds, not minutes


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    path: str
    bytes: int
    kbit_per_second: int
    keyframe_bytes: int


@dataclass(frozen=True)
class Timing:
    segment: str
    method: str
    runs: int
    median_ms: float
    p95_ms: float
    cpu_ms: float  # CPU per thumbnail, all threads (and for ffmpeg, the child processes)


@dataclass(frozen=True)
class Throughput:
    setting: str
    callers: int
    thumbnails_per_second: float
    cpu_ms: float


# --- segments -------------------------------------------------------------------------


def make_segment(spec: SegmentSpec, workdir: Path) -> SegmentInfo:
    """The first 2 s segment of a recording, as the segmenter cuts it, written to ``<name>.ts``."""
    source = workdir / f"{spec.name.replace(' ', '-')}.mp4"
    write_test_file(source, 4.0, width=spec.width, height=spec.height, fps=25, gop_seconds=2.0,
                    codec=spec.codec, bitrate=spec.bitrate)
    segment = next(iter(segment_source(str(source), 2.0)))
    path = source.with_suffix(".ts")
    path.write_bytes(segment.data)
    kbps = round(len(segment.data) * 8 / segment.duration / 1000)
    return SegmentInfo(spec.name, str(path), len(segment.data), kbps, _keyframe_bytes(segment.data))


def _keyframe_bytes(data: bytes) -> int:
    """Size of the first video packet: decoding it is nearly all of a thumbnail's cost."""
    with av.open(io.BytesIO(data)) as container:
        return next(p.size for p in container.demux(video=0) if p.size)


# --- timing helpers -------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_calls(segment: str, method: str, call: Callable[[], object], runs: int, child_cpu: bool = False) -> Timing:
    """Median and p95 wall time of ``call`` after one warm-up; CPU of this process (or its children)."""
    call()
    walls: list[float] = []
    cpu_clock = _children_cpu if child_cpu else time.process_time
    cpu_before = cpu_clock()
    for _ in range(runs):
        start = time.perf_counter()
        call()
        walls.append((time.perf_counter() - start) * 1000)
    cpu_ms = (cpu_clock() - cpu_before) * 1000 / runs
    return Timing(segment, method, runs, round(statistics.median(walls), 2), round(_percentile(walls, 0.95), 2),
                  round(cpu_ms, 2))


def throughput(setting: str, call: Callable[[], object], callers: int, per_caller: int) -> Throughput:
    """Thumbnails/s with ``callers`` threads calling at once, as a busy worker would."""
    def loop() -> None:
        for _ in range(per_caller):
            call()

    call()
    threads = [threading.Thread(target=loop) for _ in range(callers)]
    cpu_before, start = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_before
    total = callers * per_caller
    return Throughput(setting, callers, round(total / elapsed, 1), round(cpu * 1000 / total, 2))


# --- the methods compared -------------------------------------------------------------


def naive_pyav(data: bytes) -> bytes:
    """What one writes first: default open (its probe decodes), NONKEY, default threads, new encoder."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        frame = next(container.decode(stream))
    height = round(frame.height * WIDTH / frame.width / 2) * 2
    small = frame.reformat(WIDTH, height, "yuvj420p")
    encoder = CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, height, "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    small.pts = None
    return bytes(encoder.encode(small)[0])


def ffmpeg_command(path: str, workdir: Path) -> Callable[[], object]:
    """The command the design notes measured, one process per segment."""
    args = FFMPEG_COMMAND.replace("seg.ts", path).replace("out.jpg", str(workdir / "out.jpg")).split()
    return lambda: subprocess.run(args, check=True, stdin=subprocess.DEVNULL)


def segment_timings(info: SegmentInfo, runs: int, workdir: Path, ffmpeg: bool) -> list[Timing]:
    data = Path(info.path).read_bytes()
    rows = [
        time_calls(info.name, "first_keyframe_jpeg", lambda: first_keyframe_jpeg(data), runs),
        time_calls(info.name, "naive PyAV", lambda: naive_pyav(data), runs),
    ]
    if ffmpeg:
        rows.append(time_calls(info.name, "ffmpeg command", ffmpeg_command(info.path, workdir), runs, child_cpu=True))
    return rows


THREAD_SETTINGS = [("SLICE", 1), ("SLICE", 2), ("FRAME", 2), ("SLICE", 0)]  # 0 = FFmpeg picks (PyAV's default)


def decoder_settings(data: bytes, runs: int, label_segment: str = "1080p h264") -> tuple[list[Timing], list[Throughput]]:
    """The decoder threading choices, alone and with two callers at once (one per core here)."""
    timings: list[Timing] = []
    rates: list[Throughput] = []
    for thread_type, count in THREAD_SETTINGS:
        label = f"{thread_type} x{count or 'auto'}"
        decode = lambda t=thread_type, c=count: thumbnails._first_keyframe(data, t, c)  # noqa: E731
        timings.append(time_calls(label_segment, f"decode {label}", decode, runs))
        rates.append(throughput(f"decode {label}", decode, callers=2, per_caller=max(5, runs // 2)))
    rates.append(throughput("first_keyframe_jpeg", lambda: first_keyframe_jpeg(data), 2, max(5, runs // 2)))
    return timings, rates


def encoder_reuse(data: bytes, runs: int, label_segment: str = "1080p h264") -> list[Timing]:
    """mjpeg encode of one 320 px frame: this thread's cached encoder vs a new one per call."""
    keyframe = thumbnails._first_keyframe(data)
    small = thumbnails._scale(keyframe.frame, WIDTH, 180)
    qscale = thumbnails._qscale(80)

    def fresh() -> bytes:
        encoder = CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = WIDTH, 180, "yuvj420p"
        encoder.time_base = Fraction(1, 1)
        encoder.qmin = encoder.qmax = qscale
        small.pts = None
        return bytes(encoder.encode(small)[0])

    return [
        time_calls("320x180", "mjpeg reused", lambda: thumbnails._encode_jpeg(small, qscale), runs * 4),
        time_calls("320x180", "mjpeg new per call", fresh, runs * 4),
        time_calls(label_segment, "scale to 320x180", lambda: thumbnails._scale(keyframe.frame, WIDTH, 180), runs * 4),
    ]


# --- report ---------------------------------------------------------------------------


def print_timings(title: str, rows: list[Timing]) -> None:
    print(f"\n{title}")
    print(f"  {'segment':12} {'method':24} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8}")
    for r in rows:
        print(f"  {r.segment:12} {r.method:24} {r.median_ms:10.2f} {r.p95_ms:8.2f} {r.cpu_ms:8.2f}")


def print_throughput(rows: list[Throughput]) -> None:
    print("\nTwo callers at once (the first segment)")
    print(f"  {'setting':24} {'thumbs/s':>9} {'CPU ms/thumb':>13}")
    for r in rows:
        print(f"  {r.setting:24} {r.thumbnails_per_second:9.1f} {r.cpu_ms:13.2f}")


def ffmpeg_version() -> str | None:
    if shutil.which("ffmpeg") is None:
        return None
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def ratios(rows: list[Timing]) -> list[dict[str, object]]:
    """Per segment: first_keyframe_jpeg against the ffmpeg command (wall median and CPU)."""
    out = []
    for segment in dict.fromkeys(r.segment for r in rows):
        ours = next(r for r in rows if r.segment == segment and r.method == "first_keyframe_jpeg")
        theirs = next((r for r in rows if r.segment == segment and r.method == "ffmpeg command"), None)
        if theirs is None:
            continue
        out.append({"segment": segment, "first_keyframe_jpeg_ms": ours.median_ms, "ffmpeg_ms": theirs.median_ms,
                    "speedup_wall": round(theirs.median_ms / ours.median_ms, 1),
                    "speedup_cpu": round(theirs.cpu_ms / ours.cpu_ms, 1) if ours.cpu_ms else None})
    return out


def print_ratios(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    print("\nfirst_keyframe_jpeg vs the ffmpeg command, per segment")
    print(f"  {'segment':12} {'ours ms':>8} {'ffmpeg ms':>10} {'faster (wall)':>14} {'less CPU':>9}")
    for r in rows:
        print(f"  {r['segment']:12} {r['first_keyframe_jpeg_ms']:8.2f} {r['ffmpeg_ms']:10.2f} "
              f"{r['speedup_wall']:13.1f}x {r['speedup_cpu'] or 0:8.1f}x")


def run(runs: int, tiny: bool = False) -> dict[str, object]:
    ffmpeg = ffmpeg_version()
    specs = TINY_SPECS if tiny else [s for s in SPECS if s.codec != "hevc" or "libx265" in av.codecs_available]
    with tempfile.TemporaryDirectory(prefix="bwv-bench-thumbs-") as tmp:
        workdir = Path(tmp)
        infos = [make_segment(spec, workdir) for spec in specs]
        print(f"PyAV {av.__version__}, {os.cpu_count()} CPUs, {runs} runs; ffmpeg: {ffmpeg or 'not installed'}")
        if ffmpeg is None:
            print("  ffmpeg rows skipped (apt-get install -y ffmpeg to compare)")
        for i in infos:
            print(f"  {i.name}: {i.bytes / 1e6:.2f} MB, {i.kbit_per_second} kbit/s, keyframe {i.keyframe_bytes / 1e3:.0f} kB")
        per_segment = [t for i in infos for t in segment_timings(i, runs, workdir, ffmpeg is not None)]
        print_timings("Per thumbnail, one caller", per_segment)
        data = Path(infos[0].path).read_bytes()
        decode_rows, rates = decoder_settings(data, runs, infos[0].name)
        print_timings("Decoder threading: open + decode first keyframe, one caller", decode_rows)
        print_throughput(rates)
        encode_rows = encoder_reuse(data, runs, infos[0].name)
        print_timings("Scale and encode alone", encode_rows)
        compared = ratios(per_segment)
        print_ratios(compared)
    return {
        "vs_ffmpeg": compared,
        "pyav": av.__version__, "cpus": os.cpu_count(), "arch": platform.machine(), "ffmpeg": ffmpeg,
        "segments": [asdict(i) for i in infos],
        "per_segment": [asdict(t) for t in per_segment],
        "decoder_threading": [asdict(t) for t in decode_rows],
        "two_callers": [asdict(r) for r in rates],
        "scale_and_encode": [asdict(t) for t in encode_rows],
    }


if __name__ == "__main__":
    import sys

    from bench.__main__ import main

    main(["thumbnails", *sys.argv[1:]])
