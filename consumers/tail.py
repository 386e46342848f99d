"""``bwv tail``: pretty-print the records of any bwv topic, for a subscriber trying it out.

Reads by assigning partitions directly (no consumer group, no committed offsets:
tailing never disturbs a real subscriber). JSON values are printed as they are on
the wire, with a warning when one does not match its topic's record. On
``bwv.segments`` the video bytes are never printed: only the decoded header
record and the value's size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError
from rich.console import Console, Group, RenderableType
from rich.json import JSON
from rich.text import Text

from bwv.security import kafka_python_security
from bwv.settings import Settings
from consumers.topic_reader import TopicMessage
from schemas.headers import END_HEADER, SEGMENT_HEADER, HeaderError, decode_headers, header_mapping
from schemas.records import SegmentHeader
from schemas.topics import TopicSpec, spec_by_name, topic_table

# Without --follow, stop at the end offsets seen at start; this bounds the wait
# if a partition's end is never reached (e.g. offsets taken by transaction markers).
IDLE_STOP_SECONDS = 5.0


class TailError(Exception):
    """A topic that cannot be tailed (unknown, or missing on the broker)."""


def topic_spec(settings: Settings, topic: str) -> TopicSpec:
    specs = spec_by_name(topic_table(settings.segment_partitions, settings.max_segment_bytes))
    if topic not in specs:
        raise TailError(f"unknown topic {topic!r}; known topics: {', '.join(specs)}")
    return specs[topic]


def tail_topic(
    settings: Settings,
    spec: TopicSpec,
    *,
    from_beginning: bool = False,
    follow: bool = True,
    limit: int | None = None,
) -> Iterator[TopicMessage]:
    """Messages of one topic, from the start or from now; at most ``limit`` of them.

    Without ``follow``, stop once every partition is read up to its end offset as it
    was at the start (or after ``IDLE_STOP_SECONDS`` without a record)."""
    fetch = spec.max_message_bytes + 1024 * 1024
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        enable_auto_commit=False,
        group_id=None,
        client_id="bwv-tail",
        max_partition_fetch_bytes=fetch,
        fetch_max_bytes=max(52_428_800, 2 * fetch),
        **kafka_python_security(settings),
    )
    try:
        partitions = consumer.partitions_for_topic(spec.name)
        if not partitions:
            raise TailError(f"topic {spec.name} does not exist on {settings.kafka_bootstrap} (run `bwv init`)")
        tps = [TopicPartition(spec.name, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
            for tp in tps:  # resolve "now" at once, not at the first fetch
                consumer.position(tp)
        ends = None if follow else consumer.end_offsets(tps)
        # Our own next offset per partition: kafka-python's position() already counts
        # records fetched into its buffer but not yet returned by poll().
        next_offsets = consumer.beginning_offsets(tps) if from_beginning else dict(ends or {})
        count = 0
        last = time.monotonic()
        while True:
            if ends is not None and (
                all(next_offsets[tp] >= ends[tp] for tp in tps) or time.monotonic() - last > IDLE_STOP_SECONDS
            ):
                return
            for tp, batch in consumer.poll(timeout_ms=200).items():
                # Records past the end offsets in the batch being read are printed too: some
                # brokers (Tansu) report a partition's end as the last batch's first offset + 1.
                for r in batch:
                    next_offsets[tp] = r.offset + 1
                    last = time.monotonic()
                    yield TopicMessage(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []), r.timestamp)
                    count += 1
                    if limit is not None and count >= limit:
                        return
    finally:
        consumer.close()


def _title(msg: TopicMessage) -> Text:
    when = datetime.fromtimestamp(msg.timestamp_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    key = msg.key.decode("utf-8", "replace") if msg.key is not None else "(none)"
    title = Text()
    title.append(msg.topic, style="bold cyan")
    title.append(f" partition {msg.partition} offset {msg.offset}", style="dim")
    title.append("  key ")
    title.append(key, style="green")
    title.append(f"  {when.replace('+00:00', 'Z')}", style="dim")
    return title


def _json(data: object) -> JSON:
    return JSON(json.dumps(data, ensure_ascii=False), indent=2)


def _raw_body(msg: TopicMessage) -> list[RenderableType]:
    """A raw-bytes topic (bwv.segments): the header record and the value's size, never the bytes."""
    size = len(msg.value or b"")
    try:
        record = decode_headers(msg.headers)
    except HeaderError as exc:
        names = ", ".join(f"{k} ({len(v)} bytes)" for k, v in header_mapping(msg.headers).items()) or "none"
        return [
            Text(f"{size:,} bytes (not shown)"),
            Text(f"undecodable headers: {exc} — headers: {names}", style="red"),
        ]
    headers = header_mapping(msg.headers)
    name = SEGMENT_HEADER if isinstance(record, SegmentHeader) else END_HEADER
    raw = headers[name]
    others = [f"{k} ({len(v)} bytes)" for k, v in headers.items() if k != name]
    kind = type(record).__name__
    line = Text(f"{kind} v{record.schema_version} in header {name}; value {size:,} bytes")
    line.append(" (video not shown)" if size else " (empty)", style="dim")
    parts: list[RenderableType] = [line, _json(json.loads(raw))]
    if others:
        parts.append(Text(f"other headers: {', '.join(others)}", style="dim"))
    return parts


def _record_body(msg: TopicMessage, spec: TopicSpec) -> list[RenderableType]:
    assert spec.value is not None
    if not msg.value:
        return [Text("(empty value: a tombstone)", style="yellow")]
    try:
        payload = json.loads(msg.value)
    except (UnicodeDecodeError, ValueError):
        return [Text(f"{len(msg.value):,} bytes, not JSON (not shown)", style="red")]
    parts: list[RenderableType] = [_json(payload)]
    try:
        spec.value.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        parts.append(Text(f"does not match {spec.value.__name__}: {where}: {first['msg']}", style="yellow"))
    if msg.headers:
        parts.append(Text(f"headers: {', '.join(k for k, _ in msg.headers)}", style="dim"))
    return parts


def render(msg: TopicMessage, spec: TopicSpec) -> RenderableType:
    body = _raw_body(msg) if spec.value is None else _record_body(msg, spec)
    return Group(_title(msg), *body, Text(""))


def run_tail(
    settings: Settings,
    topic: str,
    console: Console,
    *,
    from_beginning: bool = False,
    follow: bool = True,
    limit: int | None = None,
) -> int:
    """Print the topic's messages to ``console``; return how many were printed."""
    spec = topic_spec(settings, topic)
    count = 0
    for msg in tail_topic(settings, spec, from_beginning=from_beginning, follow=follow, limit=limit):
        console.print(render(msg, spec))
        count += 1
    return count
