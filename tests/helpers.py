"""Test helpers that drive real processes: the worker, the CLI, topic reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bwv.settings import Settings
from consumers.topic_reader import read_topic

T = TypeVar("T")


def bwv(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bwv", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    web_port: int

    @classmethod
    def start(cls, base: Path, web_port: int, env: dict[str, str] | None = None, ready_timeout: float = 60) -> "WorkerProcess":
        log_path = base / f"worker-{web_port}.log"
        full_env = {
            **os.environ,
            "BWV_WEB_PORT": str(web_port),
            "BWV_DATA_DIR": str(base / f"data-{web_port}"),
            **(env or {}),
        }
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bwv", "worker"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                start_new_session=True,
            )
        worker = cls(proc, log_path, web_port)
        worker.wait_ready(ready_timeout)
        return worker

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return "Ready" in self.log()

        wait_for(ready, timeout, "the worker to join its group")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def records(settings: Settings, topic: str, idle: float = 0.5) -> list[dict[str, object]]:
    """Every JSON record of a metadata topic, in partition/offset order."""
    return [json.loads(m.value) for m in read_topic(settings, topic, idle_timeout=idle) if m.value]
