"""Segment writes without a HEAD first, only on a store proven to honour If-None-Match.

The worker probes the store at start (ObjectStore.probe_conditional_writes). On a
store that honours the condition, ingest skips the HEAD before each segment's
create: the create itself finds whatever the key holds, and the same checks run
on it. Whatever is already stored — another camera's segment, other bytes, the
same bytes — is never overwritten and never gets a second version.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bwv.settings import Settings
from schemas.layout import segment_key
from schemas.records import SegmentHeader
from streams.decisions import Limits
from streams.ingest import SEGMENT_CONTENT_TYPE, Ingestor
from streams.objectstore import META_HEADER, META_SHA256, ObjectStore, header_metadata

pytestmark = pytest.mark.integration

TS = bytes([0x47]) + bytes(187)  # one MPEG-TS packet: passes the ingest's "is it video" check


def header(camera: str, recording: str, data: bytes) -> SegmentHeader:
    start = datetime.now(timezone.utc) - timedelta(seconds=10)
    return SegmentHeader(
        camera_id=camera, officer_id="pc-1", recording_id=recording, sequence=0, capture_start=start,
        capture_end=start + timedelta(seconds=2), codec="h264", width=320, height=180, fps=25,
        byte_size=len(data), sha256=hashlib.sha256(data).hexdigest(),
    )


def versions(store: ObjectStore, key: str) -> int:
    return sum(1 for _ in store.client.list_objects(store.footage_bucket, prefix=key, include_version=True))


def ingest(store: ObjectStore, h: SegmentHeader, data: bytes) -> Any:
    with ThreadPoolExecutor(2) as pool:
        ingestor = Ingestor(store, pool, Limits(1 << 20, 10))
        return asyncio.run(ingestor.segment(h, data, None, 0, 0))


@pytest.fixture(params=["conditional", "head first"])
def conditional_store(settings: Settings, request: pytest.FixtureRequest) -> ObjectStore:
    """A probed store (no HEAD before create), and for comparison one never probed (HEAD first)."""
    store = ObjectStore(settings)
    if request.param == "conditional":
        assert store.probe_conditional_writes() is True  # moto honours If-None-Match
        assert store.conditional_writes
    return store


def test_a_store_that_ignores_the_condition_keeps_the_head(settings: Settings) -> None:
    store = ObjectStore(settings)
    real = store.client._put_object  # noqa: SLF001

    def ignoring(bucket: str, key: str, data: bytes, headers: dict[str, str]) -> Any:
        return real(bucket, key, data, {k: v for k, v in headers.items() if k != "If-None-Match"})

    store.client._put_object = ignoring  # type: ignore[method-assign]  # noqa: SLF001
    assert store.probe_conditional_writes() is False
    assert store.conditional_writes is False


@pytest.mark.parametrize("stored_by", ["same camera, same bytes", "same camera, other bytes", "other camera"])
def test_what_a_key_holds_is_never_overwritten_without_the_head(conditional_store: ObjectStore, stored_by: str) -> None:
    store = conditional_store
    recording = f"cond-{uuid.uuid4().hex[:8]}"
    first = TS * 3
    owner = "cam-b" if stored_by == "other camera" else "cam-a"
    key = segment_key(recording, 0)
    store.create(store.footage_bucket, key, first,
                 {META_SHA256: hashlib.sha256(first).hexdigest(),
                  META_HEADER: header_metadata(header(owner, recording, first).model_dump_json())},
                 SEGMENT_CONTENT_TYPE)
    data = first if stored_by == "same camera, same bytes" else TS * 4
    outcome = ingest(store, header("cam-a", recording, data), data)
    if stored_by == "same camera, same bytes":
        assert outcome.stored is not None  # a redelivery: already done
    elif stored_by == "same camera, other bytes":
        assert outcome.quarantined is not None and outcome.quarantined.reason == "duplicate_conflict"
    else:
        assert outcome.rejected == "recording_reused"
    assert versions(store, key) == 1
    assert store.head(store.footage_bucket, key).sha256 == hashlib.sha256(first).hexdigest()  # type: ignore[union-attr]


def test_a_new_segment_is_written_once(conditional_store: ObjectStore) -> None:
    data = TS * 5
    recording = f"cond-{uuid.uuid4().hex[:8]}"
    outcome = ingest(conditional_store, header("cam-a", recording, data), data)
    assert outcome.stored is not None
    assert versions(conditional_store, segment_key(recording, 0)) == 1
