"""The ``bwv`` command line."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console

from bwv.settings import Settings, get_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="bwv: body-worn video pipeline (cameras → Kafka → Faust → S3).",
    pretty_exceptions_enable=False,
)
# soft_wrap: a line of output stays one line, whatever the terminal width.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """An error to print as one line and exit with ``code``, never a traceback."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CliError(f"bad setting BWV_{str(first['loc'][0]).upper()}: {first['msg']}") from None


def _raise_sigterm_as_interrupt() -> None:
    """Stop on SIGTERM the way Ctrl-C stops, so clean-up code runs either way."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@app.command()
def init() -> None:
    """Create the topics (with their configs) and buckets (object lock on). Safe to repeat."""
    from streams.admin import init_all

    settings = _settings()
    topics, buckets = init_all(settings)
    out.print(f"topics created: {', '.join(topics) or 'none (all existed)'}")
    out.print(f"buckets created: {', '.join(buckets) or 'none (all existed)'}")


@app.command()
def worker() -> None:
    """Run a Faust worker (ingest agent) with the BWV_* settings."""
    import faust

    from streams.app import Pipeline

    settings = _settings()
    pipeline = Pipeline(settings)
    faust.Worker(pipeline.app, loglevel=settings.log_level).execute_from_commandline()


@app.command()
def camera(
    source: Annotated[str, typer.Option(help="File path, rtsp:// or http(s):// URL, or 'testsrc'")],
    camera_id: Annotated[str, typer.Option(help="Camera id (the Kafka key)")] = "cam-1",
    officer: Annotated[str, typer.Option(help="Officer id wearing the camera")] = "officer-1",
    recording_id: Annotated[Optional[str], typer.Option(help="Recording id (default: generated)")] = None,
    seconds: Annotated[Optional[float], typer.Option(help="Stop after this many seconds of source", min=0.1)] = None,
    realtime: Annotated[bool, typer.Option(help="Publish each segment when its capture ends, like a live camera")] = False,
    width: Annotated[int, typer.Option(help="testsrc width")] = 640,
    height: Annotated[int, typer.Option(help="testsrc height")] = 360,
    fps: Annotated[int, typer.Option(help="testsrc frames per second")] = 15,
    bitrate: Annotated[int, typer.Option(help="testsrc bits per second")] = 800_000,
    quiet: Annotated[bool, typer.Option(help="No per-segment progress")] = False,
    walk_from: Annotated[Optional[str], typer.Option(help="Simulate a foot patrol from LAT,LON: each segment carries a location")] = None,
    metrics_port: Annotated[int, typer.Option(help="Serve Prometheus metrics (spool depth, segments published) on this port; 0: off", min=0, max=65535)] = 0,
) -> None:
    """Publish one recording; prints its recording id."""
    from producers.camera import CameraIdentity, new_recording_id, record
    from producers.publisher import SegmentPublisher
    from producers.spool import Spool
    from producers.testsrc import TestsrcOptions
    from schemas.records import SegmentHeader

    settings = _settings()
    if source != "testsrc" and "://" not in source and not Path(source).exists():
        raise CliError(f"no such file: {source}")
    _raise_sigterm_as_interrupt()
    identity = _identity(CameraIdentity, camera_id, officer, recording_id or new_recording_id(camera_id))
    walk = None
    if walk_from is not None:
        from producers.route import Walk, parse_start

        try:
            lat, lon = parse_start(walk_from)
        except ValueError as exc:
            raise CliError(f"--walk-from: {exc}") from None
        walk = Walk(lat, lon, seed=sum(camera_id.encode()))
    # The spool's own status lines say when the broker is away; kafka-python's
    # per-connection-attempt errors would only bury them.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    spool = Spool.open(settings.spool_dir, camera_id, settings.spool_max_bytes)
    if metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port, addr=settings.web_host)  # producers.metrics registers on the default registry
        except OSError as exc:
            raise CliError(f"--metrics-port {metrics_port}: {exc}") from None
    publisher = SegmentPublisher(
        settings,
        spool=spool,
        on_status=lambda message: err.print(f"{camera_id}: {message}", style="yellow", markup=False, highlight=False),
    )
    out.print(identity.recording_id, highlight=False)
    sys.stdout.flush()

    def progress(header: SegmentHeader) -> None:
        if not quiet:
            err.print(
                f"[dim]{identity.recording_id} segment {header.sequence}: {header.byte_size:,} bytes, "
                f"spool {publisher.spool_depth}[/dim]"
            )

    started = time.monotonic()
    try:
        result = record(
            publisher,
            identity,
            source,
            segment_seconds=settings.segment_seconds,
            max_seconds=seconds,
            realtime=realtime,
            testsrc=TestsrcOptions(width=width, height=height, fps=fps, bitrate=bitrate, label=camera_id),
            on_segment=progress,
            walk=walk,
        )
    finally:
        publisher.close()  # whatever was not acknowledged stays in the spool
    elapsed = time.monotonic() - started
    err.print(
        f"published {result.segments} segments, {result.bytes / 1e6:.1f} MB, {result.seconds:.1f} s of video "
        f"in {elapsed:.1f} s{' (stopped early)' if result.interrupted else ''}"
    )


def _identity(cls: type, camera_id: str, officer: str, recording_id: str):  # type: ignore[no-untyped-def]
    from schemas.records import _check_id

    for name, value in (("--camera-id", camera_id), ("--officer", officer), ("--recording-id", recording_id)):
        try:
            _check_id(value)
        except ValueError as exc:
            raise CliError(f"{name} {value!r}: {exc}") from None
    return cls(camera_id, officer, recording_id)


@app.command()
def verify(recording_id: Annotated[str, typer.Argument(help="Recording to check")]) -> None:
    """Re-read every stored segment of a recording; check hashes, chain, completeness and its seal."""
    from consumers.published import latest_summary, published_keys
    from consumers.verify import verify_recording
    from streams.objectstore import ObjectStore

    settings = _settings()
    summary = latest_summary(settings, recording_id)
    report = verify_recording(
        ObjectStore(settings),
        recording_id,
        trusted_keys=published_keys(settings),
        expect_sealed=bool(summary and summary.sealed_segment_count is not None),
        recording_open=bool(summary and summary.closed_reason is None),
    )
    if report.ok:
        out.print(report.summary(), highlight=False)
        return
    err.print(report.summary(), highlight=False)
    raise typer.Exit(1)


@app.command()
def up(
    cameras: Annotated[int, typer.Option(help="Simulated cameras (real time, testsrc)", min=0, max=64)] = 4,
    log_dir: Annotated[Path, typer.Option(help="Where the children's logs go")] = Path(".bwv/logs"),
) -> None:
    """Run everything locally: broker, S3, init, a worker and N simulated cameras. Ctrl-C stops it all."""
    from bwv.local import run_local

    _raise_sigterm_as_interrupt()
    run_local(_settings(), cameras=cameras, log_dir=log_dir, console=out)


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="A bwv topic, e.g. bwv.alerts")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the oldest record, not now")] = False,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Keep waiting for new records")] = True,
    limit: Annotated[Optional[int], typer.Option(help="Stop after N records", min=1)] = None,
) -> None:
    """Pretty-print a topic's records (on bwv.segments: header and size, never the video). Ctrl-C stops."""
    from consumers.tail import TailError, run_tail

    settings = _settings()
    _raise_sigterm_as_interrupt()
    try:
        count = run_tail(settings, topic, out, from_beginning=from_beginning, follow=follow, limit=limit)
    except TailError as exc:
        raise CliError(str(exc)) from None
    err.print(f"{count} record{'s' if count != 1 else ''}", highlight=False)


def _add_subcommands() -> None:
    from bwv.cameras import app as cameras_app
    from bwv.controlroom import app as control_room_app
    from bwv.evidence import app as evidence_app
    from bwv.evidence import audit_command
    from bwv.bundles import export_command, verify_bundle_command
    from bwv.keys import app as keys_app
    from bwv.queries import recordings

    app.add_typer(cameras_app, name="cameras")
    app.add_typer(control_room_app, name="control-room")
    app.add_typer(evidence_app, name="evidence")
    app.add_typer(keys_app, name="keys")
    app.command()(recordings)
    app.command("audit")(audit_command)
    app.command("export")(export_command)
    app.command("verify-bundle")(verify_bundle_command)


_add_subcommands()


def main() -> None:
    """Entry point: known failures print one clear line, never a traceback."""
    from producers.publisher import PublishError
    from producers.segmenter import SegmenterError
    from streams.admin import AdminError
    from streams.objectstore import StorageError
    from streams.catchup import ReaderError
    from streams.registry import RegistryError
    from streams.sender import SendError
    from bwv.evidence import EvidenceError
    from bwv.keys import SealKeyError
    from consumers.export import ExportError
    from consumers.remux import RemuxError
    from bwv.stack import StackError

    known = (CliError, PublishError, SegmenterError, AdminError, StorageError, StackError, RegistryError, ReaderError, SendError, EvidenceError, SealKeyError, ExportError, RemuxError)
    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into a return value without standalone mode
            err.print("stopped")
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("stopped")
        sys.exit(130)
    except known as exc:
        err.print(f"error: {exc}", highlight=False)
        sys.exit(getattr(exc, "code", 2))
    except Exception as exc:  # click's own usage errors
        # Typer vendors click (typer._click), so the check is by shape, not by class.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if type(exc).__module__.startswith(("minio", "urllib3", "kafka", "aiokafka")):
            err.print(f"error: {type(exc).__name__}: {exc}", highlight=False)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
