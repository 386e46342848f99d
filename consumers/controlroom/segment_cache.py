"""Stored segments for many viewers at the cost of one: listings, headers and bytes, cached.

Twenty browsers watching one camera each reload its live playlist every couple
of seconds and fetch every new segment. Without a cache that is twenty S3
listings, HEADs and GETs per segment; with this one it is one of each:

| what | cached | why it may be |
|---|---|---|
| a recording's segment listing | ``listing_ttl`` (0.5 s) | it only grows, a player tolerates half a second |
| a segment's header (``bwv-header`` metadata: capture times, location, SHA-256) | until evicted (LRU by count) | segments are immutable: a key never changes |
| a segment's bytes | LRU bounded in bytes (``BWV_CONTROL_ROOM_CACHE_BYTES``) | the same; viewers want the newest, so they are the ones kept |

Concurrent requests for the same thing while it is being fetched wait for that
one fetch (single flight), so a burst of viewers on a new segment is one GET.
A fetch is shielded from the request that started it: a viewer who goes away
does not cancel the others' answer. Bytes are checked against the header's
SHA-256 before they are cached or served.

Storage calls block; they run in the given executor. Everything else runs on
the event loop, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from minio.error import S3Error

from schemas.layout import segment_key, segments_prefix, sequence_of
from schemas.records import SegmentHeader
from streams.objectstore import META_HEADER, MISSING_CODES, ObjectStore

log = logging.getLogger(__name__)

T = TypeVar("T")
HEADER_ENTRIES = 50_000  # ~1.5 kB each: ~75 MB at most, about 28 camera-hours of 2 s segments


class SegmentCorrupt(RuntimeError):
    """Stored bytes do not match the SHA-256 their header records."""


@dataclass
class CacheStats:
    """S3 calls made and cache answers given (the control room's metrics read these)."""

    lists: int = 0
    heads: int = 0
    gets: int = 0
    hits: int = 0
    misses: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"lists": self.lists, "heads": self.heads, "gets": self.gets, "hits": self.hits, "misses": self.misses}


class SegmentCache:
    def __init__(
        self,
        store: ObjectStore,
        executor: Executor,
        max_bytes: int,
        listing_ttl: float = 0.5,
        on_s3: Callable[[str], None] | None = None,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.max_bytes = max_bytes
        self.listing_ttl = listing_ttl
        self.on_s3 = on_s3  # called with "list", "head" or "get" for each S3 request
        self.on_lookup = on_lookup  # called with True (hit) or False (miss) for each segment asked for
        self.stats = CacheStats()
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self.bytes = 0
        self._headers: OrderedDict[str, SegmentHeader] = OrderedDict()
        self._listings: dict[str, tuple[float, list[int]]] = {}  # recording -> (listed at, sequences)
        self._inflight: dict[tuple[str, str], asyncio.Future[Any]] = {}

    # --- single flight -------------------------------------------------------------------

    async def _once(self, kind: str, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        """Run ``fetch`` once for concurrent callers asking the same (kind, key)."""
        slot = (kind, key)
        pending = self._inflight.get(slot)
        if pending is None:
            pending = asyncio.ensure_future(fetch())
            self._inflight[slot] = pending
            pending.add_done_callback(lambda done: self._settled(slot, done))
        return await asyncio.shield(pending)

    def _settled(self, slot: tuple[str, str], done: asyncio.Future[Any]) -> None:
        self._inflight.pop(slot, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure nobody waited for is not logged as lost

    async def _blocking(self, op: str, fn: Callable[..., T], *args: Any) -> T:
        if op == "list":
            self.stats.lists += 1
        elif op == "head":
            self.stats.heads += 1
        else:
            self.stats.gets += 1
        if self.on_s3:
            self.on_s3(op)
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- listings --------------------------------------------------------------------------

    async def sequences(self, recording_id: str) -> list[int]:
        """The recording's stored segment sequences, ascending (at most ``listing_ttl`` old)."""
        cached = self._listings.get(recording_id)
        if cached is not None and time.monotonic() - cached[0] < self.listing_ttl:
            return cached[1]

        async def fetch() -> list[int]:
            listed = await self._blocking("list", self._list, recording_id)
            self._listings[recording_id] = (time.monotonic(), listed)
            if len(self._listings) > 1000:  # recordings nobody watches any more
                cutoff = time.monotonic() - 60
                self._listings = {k: v for k, v in self._listings.items() if v[0] > cutoff}
            return listed

        return await self._once("list", recording_id, fetch)

    def _list(self, recording_id: str) -> list[int]:
        out = []
        for obj in self.store.list(self.store.footage_bucket, segments_prefix(recording_id)):
            try:
                out.append(sequence_of(obj.key))
            except ValueError:
                continue  # not a segment's key
        return sorted(out)

    # --- headers ---------------------------------------------------------------------------

    async def header(self, recording_id: str, sequence: int) -> SegmentHeader | None:
        """The segment's header as stored with it (None: no such object)."""
        key = segment_key(recording_id, sequence)
        found = self._headers.get(key)
        if found is not None:
            self._headers.move_to_end(key)
            return found

        async def fetch() -> SegmentHeader | None:
            info = await self._blocking("head", self.store.head, self.store.footage_bucket, key)
            if info is None or META_HEADER not in info.metadata:
                return None
            header = SegmentHeader.model_validate_json(info.metadata[META_HEADER])
            self._headers[key] = header
            while len(self._headers) > HEADER_ENTRIES:
                self._headers.popitem(last=False)
            return header

        return await self._once("head", key, fetch)

    async def headers(self, recording_id: str, sequences: Iterable[int]) -> list[SegmentHeader | None]:
        """Several headers, fetched concurrently (the executor bounds how many at once)."""
        return list(await asyncio.gather(*(self.header(recording_id, s) for s in sequences)))

    # --- bytes -----------------------------------------------------------------------------

    async def body(self, recording_id: str, sequence: int) -> bytes | None:
        """The segment's bytes, checked against its header's SHA-256 (None: no such object)."""
        key = segment_key(recording_id, sequence)
        data = self._bodies.get(key)
        if data is not None:
            self._bodies.move_to_end(key)
            self._lookup(True)
            return data
        self._lookup(False)

        async def fetch() -> bytes | None:
            header = await self.header(recording_id, sequence)
            if header is None:
                return None
            data = await self._blocking("get", self._get, key)
            if data is None:
                return None
            if hashlib.sha256(data).hexdigest() != header.sha256:
                raise SegmentCorrupt(f"{key}: the stored bytes do not match the SHA-256 in their header")
            self._keep(key, data)
            return data

        return await self._once("get", key, fetch)

    def _get(self, key: str) -> bytes | None:
        try:
            return self.store.get(self.store.footage_bucket, key)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                return None
            raise

    def _lookup(self, hit: bool) -> None:
        if hit:
            self.stats.hits += 1
        else:
            self.stats.misses += 1
        if self.on_lookup:
            self.on_lookup(hit)

    def _keep(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return  # larger than the whole cache (or the cache is off): serve it, keep nothing
        self._bodies[key] = data
        self.bytes += len(data)
        while self.bytes > self.max_bytes:
            _, old = self._bodies.popitem(last=False)
            self.bytes -= len(old)
