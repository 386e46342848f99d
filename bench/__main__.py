"""``python -m bench <command>``: print a benchmark's tables and write its JSON under bench/results/.

Commands (each under 3 minutes at its default size on a 2-core machine):

  ingest      one worker flooded by N cameras, thumbnails inline / agent / off, plus the raw loop
  raw         the raw loop alone: aiokafka consume + SHA-256 + S3 PUT
  realtime    the most live cameras one worker serves at p99 capture end -> stored < 1 s
  thumbnails  streams.thumbnails vs a naive PyAV cut vs the ffmpeg command, per segment
  scaling     1 vs 2 worker processes on the same topic
  live        capture -> playable in the browser: the control room's live player (bench/live.py)
  all         every one of the above, one after the other

``--tiny`` shrinks every size to a smoke run of seconds (tests/integration/test_bench_smoke.py);
its figures mean nothing. Benchmarks print figures, they never pass or fail.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, SegmentSpec, describe, load_segments, machine, write_result

TINY_SPEC = SegmentSpec(width=320, height=180, bitrate=400_000, distinct=3)
COMMANDS = ("ingest", "raw", "realtime", "thumbnails", "scaling", "live")


def _sizes(parser: argparse.ArgumentParser, cameras: int, segments: int) -> None:
    parser.add_argument("--cameras", type=int, default=None, help=f"simulated cameras (default {cameras}; --tiny 2)")
    parser.add_argument("--segments", type=int, default=None,
                        help=f"segments per camera (default {segments}; --tiny 3)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of bwv.segments (default 4)")
    parser.set_defaults(default_cameras=cameras, default_segments=segments)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds; figures meaningless)")
    common.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes (default bench/results)")
    common.add_argument("--env", action="append", default=[], metavar="BWV_X=Y",
                        help="a setting for every stack and worker of this run (repeatable), e.g. BWV_INGEST_BATCH_SIZE=32")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="pipeline throughput and latency, thumbnails inline/agent/off + raw")
    _sizes(p, 8, 40)
    p.add_argument("--modes", default="inline,agent,off", help="BWV_THUMBNAILS settings to run (default all three)")
    p.add_argument("--no-raw", action="store_true", help="skip the raw loop (no ratio)")

    p = sub.add_parser("raw", parents=[common], help="the raw loop alone")
    _sizes(p, 8, 40)
    p.add_argument("--threads", type=int, default=8, help="PUTs in flight (default 8, as BWV_S3_THREADS)")

    p = sub.add_parser("realtime", parents=[common], help="real-time camera capacity of one worker")
    p.add_argument("--steps", default=None, help="camera counts to try, ascending (default 10,20,40,60,80,100,120,160,200)")
    p.add_argument("--step-seconds", type=float, default=None, help="seconds of publishing per step (default 10)")
    p.add_argument("--drain", type=float, default=4.0, help="seconds after a step for its last segments (default 4)")
    p.add_argument("--target-p99", type=float, default=1.0, help="p99 capture end -> stored, seconds (default 1)")
    p.add_argument("--budget", type=float, default=None, help="stop stepping after this many seconds (default 150)")
    p.add_argument("--thumbnails", default="inline", choices=["inline", "agent", "off"])
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--fetch-waits", default=None,
                   help="series to run: 'shipped' (Faust's 1.5 s fetch wait) and/or a wait in ms run through "
                        "bench.worker (default shipped,10; --tiny 10)")
    p.add_argument("--no-raw", action="store_true", help="skip the raw loop at the failing load")

    p = sub.add_parser("thumbnails", parents=[common], help="thumbnail cost: in-process PyAV vs the ffmpeg command")
    p.add_argument("--runs", type=int, default=None, help="timed runs per row (default 50; --tiny 2)")

    p = sub.add_parser("scaling", parents=[common], help="1 vs 2 workers")
    _sizes(p, 8, 40)
    p.add_argument("--modes", default=None, help="BWV_THUMBNAILS settings to run (default inline,off; --tiny inline)")

    from bench import live

    live.add_arguments(sub.add_parser("live", parents=[common], help="capture -> playable in the control room's player"))

    p = sub.add_parser("all", parents=[common], help="every benchmark at its default size")
    return parser


def _spec(args: argparse.Namespace) -> SegmentSpec:
    return TINY_SPEC if args.tiny else SegmentSpec()


def _n(args: argparse.Namespace) -> tuple[int, int]:
    cameras = args.cameras or (2 if args.tiny else args.default_cameras)
    segments = args.segments or (3 if args.tiny else args.default_segments)
    return cameras, segments


def cmd_raw(args: argparse.Namespace) -> dict[str, Any]:
    from bench import raw

    cameras, per_camera = _n(args)
    figures = raw.run_phase(load_segments(_spec(args)), cameras, per_camera, args.partitions, args.threads)
    print(raw_table(figures))
    return {"config": {"cameras": cameras, "segments_per_camera": per_camera, "partitions": args.partitions,
                       "threads": args.threads, "segment": _spec(args).name}, "raw": figures}


def raw_table(f: Any) -> str:
    from bench.common import table

    return table("Raw loop: aiokafka consume + SHA-256 + S3 PUT (minio SDK, thread pool)",
                 ["segments", "MB", "seconds", "seg/s", "MB/s", "CPU s/GB", "moto CPU s/GB", "Tansu CPU s/GB",
                  "publisher CPU s/GB", "p50 s", "p99 s"],
                 [[f.segments, f.megabytes, f.seconds, f.segments_per_second, f.megabytes_per_second,
                   f.cpu_seconds_per_gb, f.s3_cpu_seconds_per_gb, f.broker_cpu_seconds_per_gb,
                   f.publisher_cpu_seconds_per_gb, f.latency_stored.p50, f.latency_stored.p99]])


def cmd_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from bench import ingest, raw

    cameras, per_camera = _n(args)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(ingest.MODES)
    if unknown:
        raise SystemExit(f"unknown --modes {', '.join(sorted(unknown))}: choose from {', '.join(ingest.MODES)}")
    segments = load_segments(_spec(args))
    raw_runs = []
    if not args.no_raw:
        raw_runs.append(raw.run_phase(segments, cameras, per_camera, args.partitions))
        print(f"  raw loop: {raw_runs[-1].megabytes_per_second} MB/s", flush=True)
    phases = []
    for mode in modes:
        phase = ingest.run_phase(segments, cameras, per_camera, args.partitions, mode)
        print(f"  thumbnails {mode}: {phase.megabytes_per_second} MB/s, {phase.worker_cpu_seconds_per_gb} CPU s/GB",
              flush=True)
        phases.append(phase)
    if not args.no_raw:
        # Again at the end: the limit is the better of the two (other load on the machine only lowers it).
        raw_runs.append(raw.run_phase(segments, cameras, per_camera, args.partitions))
        print(f"  raw loop again: {raw_runs[-1].megabytes_per_second} MB/s", flush=True)
    raw_figures = max(raw_runs, key=lambda r: r.megabytes_per_second, default=None)
    print(ingest.report(raw_figures, phases))
    if len(raw_runs) == 2:
        print(f"(raw loop: {raw_runs[0].megabytes_per_second} MB/s first, {raw_runs[1].megabytes_per_second} MB/s last; "
              "the better one is the limit)")
    on = sorted((p for p in phases if p.mode != "off"), key=lambda p: p.megabytes_per_second, reverse=True)
    if len(on) == 2:
        a, b = on
        gap = a.megabytes_per_second / b.megabytes_per_second - 1
        verdict = f"{a.mode} faster by {100 * gap:.0f} %" if gap > 0.1 else "within 10 %: a tie on throughput here"
        print(f"\nThumbnails {a.mode} {a.megabytes_per_second} MB/s vs {b.mode} {b.megabytes_per_second} MB/s: {verdict}; "
              f"total CPU per GB {a.mode} {_total_cpu(a):.1f} s, {b.mode} {_total_cpu(b):.1f} s")
    return {
        "config": {"cameras": cameras, "segments_per_camera": per_camera, "partitions": args.partitions,
                   "segment": _spec(args).name},
        "raw": raw_figures,
        "raw_runs": raw_runs,
        "pipeline": phases,
        "fraction_of_raw": {p.mode: round(p.megabytes_per_second / raw_figures.megabytes_per_second, 3)
                            for p in phases} if raw_figures else None,
    }


def _total_cpu(p: Any) -> float:
    return (p.worker_cpu_seconds_per_gb + p.s3_cpu_seconds_per_gb + p.broker_cpu_seconds_per_gb
            + p.publisher_cpu_seconds_per_gb)


def cmd_realtime(args: argparse.Namespace) -> dict[str, Any]:
    from bench import realtime

    steps = [int(s) for s in (args.steps or ("2,4" if args.tiny else "10,20,40,60,80,100,120,160,200")).split(",")]
    step_seconds = args.step_seconds or (2.0 if args.tiny else 10.0)
    budget = args.budget or (30.0 if args.tiny else 150.0)
    waits = tuple(None if w.strip() == "shipped" else int(w)
                  for w in (args.fetch_waits or ("10" if args.tiny else "shipped,10")).split(","))
    drain = min(args.drain, 2.0) if args.tiny else args.drain
    result = realtime.run(load_segments(_spec(args)), steps, step_seconds, args.partitions, args.target_p99,
                          drain, budget, args.thumbnails, waits, not args.no_raw)
    print(realtime.report(result))
    return {"config": {"steps": steps, "step_seconds": step_seconds, "drain_seconds": drain,
                       "budget_seconds": budget, "partitions": args.partitions, "segment": _spec(args).name,
                       "fetch_waits_ms": waits}, **result}


def cmd_thumbnails(args: argparse.Namespace) -> dict[str, Any]:
    from bench import thumbnails

    runs = args.runs or (2 if args.tiny else 50)
    if runs < 1:
        raise SystemExit("--runs must be at least 1")
    return thumbnails.run(runs, tiny=args.tiny)


def cmd_scaling(args: argparse.Namespace) -> dict[str, Any]:
    from bench import scaling

    cameras, per_camera = _n(args)
    if args.tiny and args.cameras is None:
        cameras = 4
    segments = load_segments(_spec(args))
    by_mode = {}
    for mode in (args.modes or ("inline" if args.tiny else "inline,off")).split(","):
        phases = []
        for workers in (1, 2):
            phase = scaling.run_phase(segments, workers, cameras, per_camera, args.partitions, mode)
            print(f"  thumbnails {mode}, {workers} worker(s): {phase.segments_per_second} seg/s", flush=True)
            phases.append(phase)
        by_mode[mode] = phases
    for mode, phases in by_mode.items():
        print(scaling.report(phases))
        print(f"Speed-up with 2 workers, thumbnails {mode}: {scaling.speedup(phases)}x")
    return {"config": {"cameras": cameras, "segments_per_camera": per_camera, "partitions": args.partitions,
                       "segment": _spec(args).name},
            "modes": {mode: scaling.summary(phases) for mode, phases in by_mode.items()}}


def cmd_live(args: argparse.Namespace) -> dict[str, Any]:
    from bench import live

    return live.command(args)


HANDLERS = {"ingest": cmd_ingest, "raw": cmd_raw, "realtime": cmd_realtime, "thumbnails": cmd_thumbnails,
            "scaling": cmd_scaling, "live": cmd_live}


def _run_one(name: str, args: argparse.Namespace, argv: list[str]) -> None:
    from bench import common

    common.EXTRA_ENV.clear()
    if args.tiny:  # quicker group joins: a smoke run starts seven workers
        common.EXTRA_ENV.update({"BWV_REBALANCE_TIMEOUT": "3", "BWV_SESSION_TIMEOUT": "3"})
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("BWV_"):
            raise SystemExit(f"--env {item!r}: expected BWV_NAME=value")
        common.EXTRA_ENV[key] = value
    started = time.monotonic()
    about = machine()
    print(f"== bench {name}{' (tiny)' if args.tiny else ''} on {describe(about)}", flush=True)
    figures = HANDLERS[name](args)
    seconds = round(time.monotonic() - started, 1)
    path = write_result(name, {"benchmark": name, "tiny": args.tiny, "machine": about, "wall_seconds": seconds,
                               "env": dict(common.EXTRA_ENV),
                               "command": "python -m bench " + " ".join(argv), **figures}, args.results)
    print(f"\n{name}: {seconds} s; written {path}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.command != "all":
        _run_one(args.command, args, argv)
        return
    for name in COMMANDS:
        sub_argv = [name, *(["--tiny"] if args.tiny else []), "--results", str(args.results),
                    *(f"--env={e}" for e in args.env)]
        _run_one(name, parser.parse_args(sub_argv), sub_argv)


if __name__ == "__main__":
    main()
