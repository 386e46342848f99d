"""Shared fixtures: a real broker (Tansu) and a real S3 endpoint (moto) on free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from bwv.settings import Settings
from bwv.stack import LocalStack, free_port

from tests.helpers import WorkerProcess, stack_env, write_sample_video



@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    logs = tmp_path_factory.mktemp("stack-logs")
    local = LocalStack.start(logs)
    saved = dict(os.environ)
    keys, spool = tmp_path_factory.mktemp("camera-keys"), tmp_path_factory.mktemp("camera-spool")
    os.environ.update(stack_env(local, keys, spool))
    try:
        yield local
    finally:
        local.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def settings(stack: LocalStack) -> Settings:
    from streams.admin import init_all

    s = Settings()
    init_all(s)
    return s


@pytest.fixture(scope="session")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One Faust worker for the session (a group join costs seconds)."""
    base = tmp_path_factory.mktemp("worker")
    proc = WorkerProcess.start(base, web_port=free_port())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 7 s H.264 + AAC file, 1 s GOP: made once per session."""
    return write_sample_video(tmp_path_factory.mktemp("media") / "sample.mp4", 7.0)


@pytest.fixture(scope="session")
def raw_producer(settings: Settings) -> Iterator[KafkaProducer]:
    """A bare Kafka producer: bad and forged input does not come through our publisher."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=8 * 1024 * 1024)
    yield producer
    producer.close()
