"""``bwv up``: the whole pipeline on this machine, for trying it and for demos."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bwv.cameras import enroll
from bwv.controlroom import create_demo_logins
from bwv.settings import Settings
from bwv.stack import LocalStack, free_port
from streams.admin import init_all

# Tansu keeps every record in memory until it stops, so the simulated cameras
# stay modest: 640x360 at ~0.8 Mbit/s is ~100 kB/s per camera.
CAMERA_BITRATE = 800_000


def _bwv(*args: str) -> list[str]:
    return [sys.executable, "-m", "bwv", *args]


def run_local(settings: Settings, *, cameras: int, log_dir: Path, console: Console) -> None:
    console.print("starting the local broker (Tansu) and S3 endpoint (moto)…")
    stack = LocalStack.start(log_dir)
    try:
        # Children inherit these; this process re-reads its settings from them too.
        os.environ.update(stack.env())
        settings = Settings()
        topics, buckets = init_all(settings)
        console.print(f"initialised: {len(topics)} topics, buckets {', '.join(buckets)}")
        web_port = settings.web_port if settings.web_port else free_port()
        worker = stack.spawn(
            "worker",
            _bwv("worker"),
            {"BWV_WEB_PORT": str(web_port), "BWV_DATA_DIR": str(log_dir.parent / "worker-data")},
            log_dir / "worker.log",
        )
        worker.url = f"http://127.0.0.1:{web_port}"
        logins = create_demo_logins(settings.control_room_users)
        room_port = _port_or_free(settings.control_room_port)
        room = stack.spawn(
            "control room",
            _bwv("control-room"),
            # Its own metrics port: the worker's (BWV_METRICS_PORT) is taken on this one machine.
            {"BWV_CONTROL_ROOM_PORT": str(room_port), "BWV_METRICS_PORT": str(free_port())},
            log_dir / "control-room.log",
        )
        room.url = f"http://{settings.control_room_host}:{room_port}"
        for i in range(1, cameras + 1):
            enroll(settings, f"cam-{i:03d}", by="bwv-up")
            cam = stack.spawn(
                f"camera cam-{i:03d}",
                _bwv(
                    "camera", "--source", "testsrc", "--realtime", "--quiet",
                    "--camera-id", f"cam-{i:03d}", "--officer", f"officer-{i:03d}",
                    "--bitrate", str(CAMERA_BITRATE),
                    # Foot patrols around central London, a few hundred metres apart.
                    "--walk-from", f"{51.5072 + 0.004 * (i % 3)},{-0.1276 + 0.006 * (i // 3)}",
                ),
                log_path=log_dir / f"cam-{i:03d}.log",
            )
            cam.url = "testsrc, real time"
        _print_table(console, stack, log_dir)
        console.print(
            "control room logins (new passwords at every start, shown only now): "
            + ", ".join(f"[bold]{name}[/bold] / {password}" for name, password in logins.items()),
            highlight=False,
        )
        console.print(
            "[yellow]The local broker keeps all footage in memory: memory grows with every segment. "
            "Ctrl-C stops everything.[/yellow]"
        )
        _watch(stack, console)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        stack.stop()
        console.print("stopped.")


def _port_or_free(port: int) -> int:
    """``port`` if it can be bound now, else a free one (0 means any free port)."""
    if port:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    return free_port()


def _print_table(console: Console, stack: LocalStack, log_dir: Path) -> None:
    table = Table(title="bwv up")
    table.add_column("component")
    table.add_column("where")
    table.add_column("log")
    table.add_row("kafka (Tansu)", stack.broker.url, str(log_dir / "kafka.log"))
    table.add_row("s3 (moto)", stack.s3.url, str(log_dir / "s3.log"))
    for child in stack.children:
        table.add_row(child.name, child.url, str(child.log_path or ""))
    console.print(table)
    console.print(f"in another shell: export BWV_KAFKA_BOOTSTRAP={stack.broker.url} BWV_S3_ENDPOINT={stack.s3.url}")


def _watch(stack: LocalStack, console: Console) -> None:
    """Wait for Ctrl-C; say so if a child dies meanwhile."""
    reported: set[str] = set()
    while True:
        for child in [stack.broker, stack.s3, *stack.children]:
            if child.proc.poll() is not None and child.name not in reported:
                reported.add(child.name)
                console.print(f"[red]{child.name} exited with {child.proc.returncode}; see {child.log_path}[/red]")
        time.sleep(1)
