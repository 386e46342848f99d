"""Ingestor.call: storage calls retried until they succeed, with one alert raised and cleared."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from schemas.records import Alert
from streams.decisions import Limits
from streams.ingest import Ingestor


def ingestor(alerts: list[Alert], pool: ThreadPoolExecutor) -> Ingestor:
    return Ingestor(store=None, executor=pool, limits=Limits(1024, 10), on_storage_trouble=alerts.append, max_backoff=0.05)  # type: ignore[arg-type]


def states(alerts: list[Alert]) -> list[str]:
    assert all(a.kind == "storage_failure" and a.dedup_key == "storage_failure" for a in alerts)
    return [a.state.value for a in alerts]


def failing(times: int, result: Any = "ok", exc: Exception | None = None) -> Any:
    left = [times]

    def fn() -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise exc or ConnectionRefusedError("S3 down")
        return result

    return fn


def test_retries_until_storage_answers_and_raises_then_clears_once() -> None:
    alerts: list[Alert] = []
    with ThreadPoolExecutor(2) as pool:
        assert asyncio.run(ingestor(alerts, pool).call(failing(5))) == "ok"
    assert states(alerts) == ["raised", "cleared"]


def test_no_alert_when_the_first_attempt_succeeds() -> None:
    alerts: list[Alert] = []
    with ThreadPoolExecutor(2) as pool:
        assert asyncio.run(ingestor(alerts, pool).call(failing(0))) == "ok"
    assert alerts == []


def test_a_programming_error_is_not_retried() -> None:
    alerts: list[Alert] = []
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError):
        asyncio.run(ingestor(alerts, pool).call(failing(1, exc=ValueError("bug"))))
    assert alerts == []


def test_a_slow_call_sent_before_the_failure_does_not_clear_the_alert() -> None:
    """One call is slow but succeeds; another, sent later, fails meanwhile. Storage is
    only known to answer again when a call sent after that failure succeeds."""
    alerts: list[Alert] = []
    seen_when_slow_one_ended: list[str] = []

    def slow() -> str:
        time.sleep(0.3)
        return "slow"

    async def both() -> None:
        ing = ingestor(alerts, pool)

        async def slow_call() -> None:
            await ing.call(slow)
            seen_when_slow_one_ended.extend(states(alerts))

        async def failing_call() -> None:
            await asyncio.sleep(0.05)
            calls = failing(1)

            def fails_then_waits() -> str:
                result = calls()  # the first attempt fails at once
                time.sleep(0.4)  # the retry answers after the slow call ended
                return result

            await ing.call(fails_then_waits)

        await asyncio.gather(slow_call(), failing_call())

    with ThreadPoolExecutor(4) as pool:
        asyncio.run(both())
    assert seen_when_slow_one_ended == ["raised"]
    assert states(alerts) == ["raised", "cleared"]
