"""Reading a partition range again (how ingest recovers segments the consumer skipped)."""

from __future__ import annotations

import asyncio

import pytest
from kafka import KafkaProducer

from bwv.settings import Settings
from schemas.topics import SEGMENTS
from streams.refetch import read_range

pytestmark = pytest.mark.integration


def test_exactly_the_range_comes_back_in_offset_order(settings: Settings, raw_producer: KafkaProducer) -> None:
    sent = [raw_producer.send(SEGMENTS, key=b"refetch-cam", value=b"m%d" % i, partition=0).get(timeout=10) for i in range(5)]
    first, last = sent[1].offset, sent[3].offset
    found = asyncio.run(read_range(settings, SEGMENTS, 0, first, last + 1))
    mine = [m for m in found if m.key == b"refetch-cam"]
    assert [m.value for m in mine] == [b"m1", b"m2", b"m3"]
    assert [m.offset for m in mine] == sorted(m.offset for m in mine)
    assert all(first <= m.offset <= last for m in found)
    assert asyncio.run(read_range(settings, SEGMENTS, 0, last, last)) == []
