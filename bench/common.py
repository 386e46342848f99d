"""What the benchmarks share: the machine, realistic segments, a fresh local stack, cameras, collectors.

Every benchmark starts its own Tansu broker and moto S3 endpoint (``BenchStack``):
Tansu keeps every record in memory until it stops, so a fresh stack per phase
keeps memory bounded and gives each phase the same starting state.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CACHE_DIR = RESULTS_DIR / ".cache"

# Fast group joins (see DESIGN.md: the first join waits for the rebalance timeout).
STACK_ENV = {
    "BWV_SEGMENT_PARTITIONS": "4",
    "BWV_REBALANCE_TIMEOUT": "5",
    "BWV_SESSION_TIMEOUT": "5",
    "BWV_LOG_LEVEL": "info",  # start_worker waits for Faust's "Ready" line
    "BWV_METRICS_PORT": "0",  # several workers on one machine: metrics stay on each web port
    "BWV_RETENTION_CHECK_INTERVAL": "3600",
}
# ``python -m bench … --env BWV_X=Y``: applied to every stack (and so every worker) after the above.
EXTRA_ENV: dict[str, str] = {}


# --- the machine ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM and load: printed with every result, written into its JSON."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "ram_gb": mem_gb,
        "python": platform.python_version(),
        "load_1min": round(os.getloadavg()[0], 2),
        "ffmpeg": shutil.which("ffmpeg") is not None,
    }


def describe(m: dict[str, Any]) -> str:
    return f"{m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, load {m['load_1min']}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Latency":
        return cls(
            len(seconds),
            round(percentile(seconds, 0.50), 3),
            round(percentile(seconds, 0.95), 3),
            round(percentile(seconds, 0.99), 3),
            round(max(seconds), 3) if seconds else float("nan"),
        )


# --- segments -------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentSpec:
    """What the simulated cameras send: by default 1080p25 H.264 at ~4 Mbit/s with audio, 2 s segments."""

    width: int = 1920
    height: int = 1080
    bitrate: int = 4_000_000
    distinct: int = 10  # different segments cut (cameras cycle through them)
    seconds: float = 2.0

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}-{self.bitrate // 1000}k-{self.distinct}x{self.seconds:g}s"


@dataclass(frozen=True)
class BenchSegment:
    data: bytes
    sha256: str
    duration: float
    codec: str
    width: int
    height: int
    fps: float


def load_segments(spec: SegmentSpec, cache_dir: Path = CACHE_DIR) -> list[BenchSegment]:
    """Segments as the camera side cuts them (synthetic textured picture, libx264, 2 s GOP, AAC).

    Encoding 1080p takes a while on two cores, so they are cached under
    bench/results/.cache (git-ignored) and reused by later runs.
    """
    import hashlib

    folder = cache_dir / spec.name
    meta_path = folder / "segments.json"
    if not meta_path.exists():
        from producers.segmenter import segment_source
        from producers.testsrc import write_test_file

        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bwv-bench-src-") as tmp:
            source = Path(tmp) / "source.mp4"
            write_test_file(source, spec.seconds * (spec.distinct + 1), width=spec.width, height=spec.height, fps=25,
                            gop_seconds=spec.seconds, audio=True, bitrate=spec.bitrate)
            metas = []
            for segment in segment_source(str(source), spec.seconds):
                if len(metas) == spec.distinct:
                    break
                (folder / f"{segment.index:03d}.ts").write_bytes(segment.data)
                metas.append({"file": f"{segment.index:03d}.ts", "duration": segment.duration, "codec": segment.codec,
                              "width": segment.width, "height": segment.height, "fps": segment.fps})
        meta_path.write_text(json.dumps(metas, indent=1))
    out = []
    for meta in json.loads(meta_path.read_text()):
        data = (folder / meta["file"]).read_bytes()
        out.append(BenchSegment(data, hashlib.sha256(data).hexdigest(), meta["duration"], meta["codec"],
                                meta["width"], meta["height"], meta["fps"]))
    return out


# --- cameras --------------------------------------------------------------------------


def spread_cameras(prefix: str, count: int, partitions: int) -> list[str]:
    """``count`` camera ids spread evenly over the partitions (Kafka's default partitioner)."""
    from kafka.partitioner.default import murmur2

    per_partition = -(-count // partitions)
    taken: dict[int, int] = {}
    chosen: list[str] = []
    i = 0
    while len(chosen) < count:
        camera = f"{prefix}-{i:04d}"
        p = (murmur2(camera.encode()) & 0x7FFFFFFF) % partitions
        if taken.get(p, 0) < per_partition:
            taken[p] = taken.get(p, 0) + 1
            chosen.append(camera)
        i += 1
    return chosen


def enroll_all(settings: Any, camera_ids: Iterable[str]) -> None:
    """Keys for simulated cameras, registered in one acknowledged batch (one producer, not one per camera)."""
    from producers.keys import KeyRing
    from schemas.records import CameraKey, CameraKeyState
    from schemas.signing import public_key_hex
    from schemas.topics import CAMERAS
    from streams.sender import send_records

    ring = KeyRing(settings.camera_keys_dir)
    records = [
        (cid, CameraKey(camera_id=cid, state=CameraKeyState.active, public_key=public_key_hex(ring.ensure(cid)),
                        by="bwv-bench", reason="benchmark camera"))
        for cid in camera_ids
    ]
    send_records(settings, CAMERAS, records, client_id="bwv-bench")


@dataclass
class Fleet:
    """Simulated cameras publishing pre-encoded segments through the project's publisher (direct mode)."""

    settings: Any
    cameras: list[str]
    segments: list[BenchSegment]
    run_id: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%H%M%S%f"))
    # Flooded segments get consecutive capture times from an hour ago (the past, not the far future).
    base: datetime = field(default_factory=lambda: datetime.now(timezone.utc) - timedelta(hours=1))
    published: dict[tuple[str, int], float] = field(default_factory=dict)  # (recording, sequence) -> time.time()
    sizes: dict[tuple[str, int], int] = field(default_factory=dict)
    headers: dict[tuple[str, int], Any] = field(default_factory=dict)  # SegmentHeader

    def __post_init__(self) -> None:
        from producers.publisher import SegmentPublisher

        self.publisher = SegmentPublisher(self.settings)

    def recording(self, camera: str) -> str:
        return f"{camera}-r{self.run_id}"

    def publish(self, camera_index: int, sequence: int, capture_end: datetime | None = None) -> None:
        """Hand one segment over to the producer (it batches and sends in its own thread)."""
        from schemas.records import SegmentHeader

        camera = self.cameras[camera_index]
        seg = self.segments[(sequence + camera_index) % len(self.segments)]
        end = capture_end or self.base + timedelta(seconds=seg.duration * (sequence + 1))
        header = SegmentHeader(
            camera_id=camera, officer_id=f"officer-{camera_index:04d}", recording_id=self.recording(camera),
            sequence=sequence, capture_start=end - timedelta(seconds=seg.duration), capture_end=end,
            codec=seg.codec, width=seg.width, height=seg.height, fps=seg.fps, byte_size=len(seg.data),
            sha256=seg.sha256,
        )
        key = (header.recording_id, sequence)
        self.published[key] = time.time()
        self.sizes[key] = len(seg.data)
        self.headers[key] = header
        self.publisher.publish(header, seg.data)

    def thumbnailed(self, keys: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """The keys whose thumbnail the worker cuts as it stores them (BWV_THUMBNAIL_INTERVAL_SECONDS)."""
        from streams.thumbnail_schedule import thumbnail_due

        interval = self.settings.thumbnail_interval_seconds
        return [k for k in keys if thumbnail_due(self.headers[k], interval)]

    def flood(self, per_camera: int) -> None:
        """Every camera's segments as fast as the producer takes them, cameras interleaved."""
        for sequence in range(per_camera):
            for c in range(len(self.cameras)):
                self.publish(c, sequence)
        self.publisher.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.publisher.close()

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())


# --- the stack ------------------------------------------------------------------------


@dataclass
class BenchStack:
    """A fresh broker and S3 endpoint, topics and buckets, cameras enrolled; workers on demand."""

    workdir: Path
    stack: Any
    settings: Any
    workers: list[Any] = field(default_factory=list)

    def start_worker(self, thumbnails: str = "inline", extra: dict[str, str] | None = None,
                     fetch_wait_ms: int | None = None) -> Any:
        """``bwv worker``; with ``fetch_wait_ms``, through bench.worker (Faust's fetch wait changed)."""
        from bwv.stack import free_port, start_worker

        n = len(self.workers)
        env = {"BWV_WEB_PORT": str(free_port()), "BWV_DATA_DIR": str(self.workdir / f"data-{n}"),
               "BWV_THUMBNAILS": thumbnails, **(extra or {})}
        log = self.workdir / "logs" / f"worker-{n}.log"
        if fetch_wait_ms is None:
            worker = start_worker(env, log)
        else:
            worker = _start_bench_worker({**env, "BWV_BENCH_FETCH_WAIT_MS": str(fetch_wait_ms)}, log)
        self.stack.children.append(worker)
        self.workers.append(worker)
        return worker

    def worker_log(self, n: int = 0) -> str:
        return (self.workdir / "logs" / f"worker-{n}.log").read_text(errors="replace")

    @property
    def s3_pid(self) -> int:
        return self.stack.s3.proc.pid

    @property
    def broker_pid(self) -> int:
        return self.stack.broker.proc.pid


def _start_bench_worker(env: dict[str, str], log_path: Path, ready_timeout: float = 60.0) -> Any:
    """As bwv.stack.start_worker, but ``python -m bench.worker``."""
    from bwv.stack import start_worker

    return start_worker(env, log_path, ready_timeout, command=("-m", "bench.worker"))


@contextlib.contextmanager
def bench_stack(cameras: Iterable[str] = (), env: dict[str, str] | None = None,
                keep_logs: Path | None = None) -> Iterator[BenchStack]:
    """Start Tansu + moto on free ports, point BWV_* at them (restored afterwards), init, enroll."""
    from bwv.settings import Settings
    from bwv.stack import LocalStack
    from streams.admin import init_all

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bwv-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "logs").mkdir()
        stack = LocalStack.start(workdir / "logs")
        try:
            os.environ.update({**stack.env(), **STACK_ENV, **(env or {}), **EXTRA_ENV,
                               "BWV_CAMERA_KEYS_DIR": str(workdir / "keys"),
                               "BWV_SEAL_KEY_FILE": str(workdir / "keys" / "bwv-seal.key"),
                               "BWV_SPOOL_DIR": str(workdir / "spool")})
            settings = Settings()
            init_all(settings)
            ids = list(cameras)
            if ids:
                enroll_all(settings, ids)
            yield BenchStack(workdir, stack, settings)
        finally:
            stack.stop()
            os.environ.clear()
            os.environ.update(saved)
            if keep_logs is not None:
                keep_logs.mkdir(parents=True, exist_ok=True)
                for log in (workdir / "logs").glob("*.log"):
                    shutil.copy(log, keep_logs / log.name)


# --- what the pipeline reports --------------------------------------------------------


def _utc_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Collector(threading.Thread):
    """Reads the pipeline's small output topics while a benchmark runs (group-less, from the start).

    stored:     (recording, sequence) -> stored_at        (bwv.segments.stored)
    thumbnails: (recording, sequence) -> created_at       (bwv.thumbnails)
    indexed:    (recording, sequence) -> updated_at of the first summary that includes it (bwv.recordings)
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(daemon=True, name="bench-collector")
        from schemas.topics import RECORDINGS, SEGMENTS_STORED, THUMBNAILS

        self.settings = settings
        self.topics = {SEGMENTS_STORED: self._stored, THUMBNAILS: self._thumbnail, RECORDINGS: self._summary}
        self.stored: dict[tuple[str, int], float] = {}
        self.stored_bytes = 0
        self.thumbnails: dict[tuple[str, int], float] = {}
        self.indexed: dict[tuple[str, int], float] = {}
        self._indexed_upto: dict[str, int] = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.ready = threading.Event()

    def _stored(self, record: dict[str, Any]) -> None:
        self.stored[(record["recording_id"], record["sequence"])] = _utc_seconds(record["stored_at"])
        self.stored_bytes += record["byte_size"]

    def _thumbnail(self, record: dict[str, Any]) -> None:
        self.thumbnails.setdefault((record["recording_id"], record["sequence"]), _utc_seconds(record["created_at"]))

    def _summary(self, record: dict[str, Any]) -> None:
        rid, last = record["recording_id"], record.get("last_sequence", -1)
        done = self._indexed_upto.get(rid, -1)
        if last > done:
            at = _utc_seconds(record["updated_at"])
            for seq in range(done + 1, last + 1):
                self.indexed[(rid, seq)] = at
            self._indexed_upto[rid] = last

    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap.split(","), group_id=None,
                                 enable_auto_commit=False, client_id="bwv-bench-collector")
        try:
            tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            self.ready.set()
            while not self._halt.is_set():
                for tp, records in consumer.poll(timeout_ms=100).items():
                    handle = self.topics[tp.topic]
                    with self._lock:
                        for r in records:
                            if r.value:
                                handle(json.loads(r.value))
        finally:
            self.ready.set()
            consumer.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def wait(self, keys: Iterable[tuple[str, int]], timeout: float, thumbnails: Iterable[tuple[str, int]] = (),
             indexed: bool = True) -> bool:
        """Until every key is stored (and indexed), and ``thumbnails`` thumbnailed; False after ``timeout`` s."""
        wanted, pictures = set(keys), set(thumbnails)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                done = (wanted <= self.stored.keys() and pictures <= self.thumbnails.keys()
                        and (not indexed or wanted <= self.indexed.keys()))
            if done:
                return True
            time.sleep(0.05)
        return False


# --- output ---------------------------------------------------------------------------


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (also pasted into the README)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    line = lambda values: "| " + " | ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))) + " |"  # noqa: E731
    out = [f"\n{title}", line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "–"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def write_result(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=_jsonable))
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
