"""Every record of the topic contract: each gets a JSON Schema file and a place in
the AsyncAPI document (``python -m schemas.generate`` writes both).

Adding a record is a one-line change, in one of three places:

* a topic's value: ``value=TheRecord`` on its ``TopicSpec`` in ``schemas/topics.py``
  (nothing to add here: every topic of the table is read);
* a record carried in a Kafka header: ``"header-name": TheRecord`` in ``HEADER_RECORDS``;
* any other record that crosses a process boundary: append it to ``OTHER_RECORDS``.

Then run ``python -m schemas.generate`` and commit what it wrote.
``tests/unit/test_contract.py`` fails when a ``Record`` subclass is in none of these
places, or when the checked-in files differ from what the records generate.
"""

from __future__ import annotations

from schemas.headers import END_HEADER, SEGMENT_HEADER
from schemas.records import Record, RecordingEnd, RecordingSeal, SegmentHeader
from schemas.topics import TopicSpec, topic_table

# The topic table depends on two settings, and schemas/ cannot import bwv.settings:
# the contract documents their defaults (a test keeps these equal to Settings').
DEFAULT_SEGMENT_PARTITIONS = 8
DEFAULT_MAX_SEGMENT_BYTES = 16 * 1024 * 1024

# Records that travel in a Kafka header of bwv.segments (the value is raw video).
HEADER_RECORDS: dict[str, type[Record]] = {
    SEGMENT_HEADER: SegmentHeader,
    END_HEADER: RecordingEnd,
}

# Records on no topic and in no header that still cross a process boundary.
OTHER_RECORDS: tuple[type[Record], ...] = (RecordingSeal,)  # seal.json in storage and in evidence bundles


def contract_topics() -> list[TopicSpec]:
    """The topic table as the contract documents it (default settings)."""
    return topic_table(DEFAULT_SEGMENT_PARTITIONS, DEFAULT_MAX_SEGMENT_BYTES)


def registered_records() -> list[type[Record]]:
    """Every record of the contract, once, in a stable order: topics, headers, others."""
    candidates = [spec.value for spec in contract_topics() if spec.value is not None]
    candidates += list(HEADER_RECORDS.values()) + list(OTHER_RECORDS)
    by_name: dict[str, type[Record]] = {}
    for cls in candidates:
        known = by_name.setdefault(cls.__name__, cls)
        if known is not cls:
            # File names and AsyncAPI component names are record names: they must be unique.
            raise ValueError(f"two different records are named {cls.__name__}: {known!r} and {cls!r}")
    return list(by_name.values())
