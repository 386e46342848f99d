"""The control room's segment cache: one S3 call per segment however many viewers, bounded in bytes."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from consumers.controlroom.segment_cache import SegmentCache, SegmentCorrupt
from schemas.layout import segment_key
from schemas.records import SegmentHeader
from streams.objectstore import META_HEADER, ObjectInfo

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)
REC = "cam-1-20261128T090000Z-abcdef"


class FakeStore:
    """An object store in memory that counts calls and answers slowly (so requests overlap)."""

    footage_bucket = "footage"

    def __init__(self, delay: float = 0.05) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.calls: dict[str, int] = {"list": 0, "head": 0, "get": 0}
        self.delay = delay
        self._lock = threading.Lock()

    def add(self, sequence: int, data: bytes, *, lie: bool = False) -> None:
        header = SegmentHeader(
            camera_id="cam-1", officer_id="pc-1", recording_id=REC, sequence=sequence,
            capture_start=T0 + timedelta(seconds=2 * sequence), capture_end=T0 + timedelta(seconds=2 * sequence + 2),
            codec="h264", width=320, height=240, fps=25, byte_size=len(data),
            sha256=hashlib.sha256(b"other" if lie else data).hexdigest(),
        )
        self.objects[segment_key(REC, sequence)] = (data, {META_HEADER: header.model_dump_json()})

    def _count(self, op: str) -> None:
        with self._lock:
            self.calls[op] += 1
        time.sleep(self.delay)

    def list(self, bucket: str, prefix: str):  # type: ignore[no-untyped-def]
        self._count("list")
        return [ObjectInfo(bucket, k, len(v[0])) for k, v in sorted(self.objects.items()) if k.startswith(prefix)]

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        self._count("head")
        found = self.objects.get(key)
        return ObjectInfo(bucket, key, len(found[0]), found[1]) if found else None

    def get(self, bucket: str, key: str) -> bytes:
        self._count("get")
        return self.objects[key][0]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture
def executor():  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(8) as pool:
        yield pool


def test_twenty_viewers_of_a_new_segment_cost_one_head_and_one_get(executor: ThreadPoolExecutor) -> None:
    store = FakeStore()
    for s in range(3):
        store.add(s, bytes([s]) * 1000)
    cache = SegmentCache(store, executor, max_bytes=1 << 20)  # type: ignore[arg-type]

    async def viewers() -> list[bytes | None]:
        return await asyncio.gather(*(cache.body(REC, 2) for _ in range(20)))

    bodies = run(viewers())
    assert bodies == [bytes([2]) * 1000] * 20
    assert store.calls == {"list": 0, "head": 1, "get": 1}
    assert run(cache.body(REC, 2)) == bytes([2]) * 1000 and store.calls["get"] == 1  # then from memory
    assert cache.stats.misses == 20 and cache.stats.hits == 1  # 20 asked while it was being fetched


def test_listings_are_shared_for_half_a_second_and_headers_kept(executor: ThreadPoolExecutor) -> None:
    store = FakeStore(delay=0.01)
    for s in range(4):
        store.add(s, b"x" * 10)
    cache = SegmentCache(store, executor, max_bytes=1 << 20, listing_ttl=0.5)  # type: ignore[arg-type]

    async def scenario() -> None:
        listings = await asyncio.gather(*(cache.sequences(REC) for _ in range(20)))
        assert listings == [[0, 1, 2, 3]] * 20 and store.calls["list"] == 1
        store.add(4, b"y" * 10)
        assert await cache.sequences(REC) == [0, 1, 2, 3]  # within the TTL: the same listing
        await asyncio.sleep(0.55)
        assert await cache.sequences(REC) == [0, 1, 2, 3, 4] and store.calls["list"] == 2
        headers = await cache.headers(REC, range(5))
        assert [h.sequence for h in headers if h] == [0, 1, 2, 3, 4]
        await cache.headers(REC, range(5))
        assert store.calls["head"] == 5  # immutable: asked once each
        assert await cache.header(REC, 99) is None

    run(scenario())


def test_bytes_are_bounded_and_the_oldest_go_first(executor: ThreadPoolExecutor) -> None:
    store = FakeStore(delay=0)
    for s in range(10):
        store.add(s, bytes([s]) * 100)
    cache = SegmentCache(store, executor, max_bytes=350)  # type: ignore[arg-type]

    async def scenario() -> None:
        for s in range(10):
            await cache.body(REC, s)
        assert cache.bytes == 300  # three segments fit
        gets = store.calls["get"]
        await cache.body(REC, 9)
        assert store.calls["get"] == gets
        await cache.body(REC, 0)
        assert store.calls["get"] == gets + 1  # evicted long ago
        assert await cache.body(REC, 42) is None

    run(scenario())


def test_bytes_that_do_not_match_their_header_are_refused(executor: ThreadPoolExecutor) -> None:
    store = FakeStore(delay=0)
    store.add(0, b"tampered", lie=True)
    cache = SegmentCache(store, executor, max_bytes=1 << 20)  # type: ignore[arg-type]
    with pytest.raises(SegmentCorrupt):
        run(cache.body(REC, 0))
    assert cache.bytes == 0


def test_a_viewer_who_leaves_does_not_cancel_the_others(executor: ThreadPoolExecutor) -> None:
    store = FakeStore(delay=0.2)
    store.add(0, b"z" * 10)
    cache = SegmentCache(store, executor, max_bytes=1 << 20)  # type: ignore[arg-type]

    async def scenario() -> None:
        leaving = asyncio.ensure_future(cache.body(REC, 0))
        staying = asyncio.ensure_future(cache.body(REC, 0))
        await asyncio.sleep(0.05)
        leaving.cancel()
        assert await staying == b"z" * 10
        assert store.calls["get"] == 1

    run(scenario())
