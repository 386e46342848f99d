"""A real consumer skip, repaired by a running worker end to end.

Faust has been seen to move a group's committed offset past segments it never
handed to the ingest agent (README, "A known gap in Faust's back-pressure").
That cannot be triggered on demand, but its effect can: with the workers
stopped, the group's committed offset is moved past a segment, exactly what a
skip leaves behind. The restarted worker must find the segment again from its
offset (``streams.app.Pipeline._repair_gap``), store it with the camera's bytes
and hash, keep the hash chain whole and raise no ``sequence_gap``.

It runs on a broker, S3 endpoint and worker of its own: moving a group's offset
from outside is not something later tests should inherit (on the shared Tansu
the restarted session worker crashed at the next rebalance, its changelog's
persisted offset ahead of the topic's highwater).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.producer.future import RecordMetadata
from kafka.structs import OffsetAndMetadata

from bwv.security import kafka_python_security
from bwv.settings import Settings
from bwv.stack import free_port
from producers.keys import KeyRing
from schemas.headers import encode_headers
from schemas.layout import segment_key, segments_prefix
from schemas.topics import ALERTS, DEAD_LETTERS, SEGMENTS
from streams.objectstore import META_SHA256, META_SOURCE, ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, own_stack, records, wait_for
from tests.integration.test_metrics import scrape, value
from tests.integration.test_pipeline import TS_PACKETS, _header, ts_body

pytestmark = pytest.mark.integration

CAMERA, RECORDING = "skip-cam", "skip-rec"


@dataclass
class OwnStack:
    settings: Settings
    env: dict[str, str]
    base: Path


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    base = tmp_path_factory.mktemp("gap-repair")
    with own_stack(base) as (env, settings):
        yield OwnStack(settings, env, base)


def stored(store: ObjectStore) -> list[str]:
    return [o.key for o in store.list(store.footage_bucket, segments_prefix(RECORDING))]


def committed(admin: KafkaAdminClient, group: str, tp: TopicPartition) -> int | None:
    found = admin.list_group_offsets({group: [tp]}).get(group, {}).get(tp)
    return found.offset if found is not None and found.offset >= 0 else None


class FaustNamedAssignor(RangePartitionAssignor):
    """Range assignment under Faust's protocol name: Tansu keeps an emptied group's
    protocol and refuses a member offering another (INCONSISTENT_GROUP_PROTOCOL)."""

    name = "faust"


def commit_as_member(settings: Settings, group: str, tp: TopicPartition, offset: int) -> None:
    """Commit ``offset`` for ``tp`` in ``group`` from a member that joined it.

    Tansu 0.6.0 refuses a group-less commit (generation -1, AdminClient
    alter_group_offsets or assign() + commit()) with UNKNOWN_MEMBER_ID once a
    Faust worker has been in the group, even after it left; a commit from a
    member that joined the (otherwise empty) group is accepted.
    """
    consumer = KafkaConsumer(
        SEGMENTS,
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        group_id=group,
        partition_assignment_strategy=[FaustNamedAssignor],
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        **kafka_python_security(settings),
    )
    try:
        # poll() drives the join; nothing it returns is committed.
        wait_for(lambda: consumer.poll(timeout_ms=500, max_records=1) is not None and tp in consumer.assignment(), 60, "a join")
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close(autocommit=False)


def test_a_skipped_segment_is_read_again_from_its_offset_and_stored(own: OwnStack) -> None:
    settings, env = own.settings, own.env
    enroll_cameras(settings, CAMERA)
    raw_producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap.split(","), max_request_size=8 * 1024 * 1024)
    key = KeyRing(settings.camera_keys_dir).private(CAMERA)
    bodies = [ts_body(0x60 + i, TS_PACKETS) for i in range(4)]

    def publish(sequence: int) -> RecordMetadata:
        header = _header(RECORDING, sequence, bodies[sequence], camera_id=CAMERA)
        headers = encode_headers(header, key)
        return raw_producer.send(SEGMENTS, key=CAMERA.encode(), value=bodies[sequence], headers=headers).get(timeout=30)

    store = ObjectStore(settings)
    group = settings.app_id  # Faust's consumer group is its app id (faust.App(settings.app_id, ...))
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","), **kafka_python_security(settings))
    worker = WorkerProcess.start(own.base, free_port(), env)
    try:
        # Segment 0 through the worker: the recording's state now remembers its partition and offset.
        sent = [publish(0)]
        tp = TopicPartition(SEGMENTS, sent[0].partition)
        wait_for(lambda: stored(store) == [segment_key(RECORDING, 0)] or None, 60, "segment 0 stored")
        # Committed means its batch was flushed: the recording's state is in the table's changelog.
        wait_for(lambda: (committed(admin, group, tp) or 0) > sent[0].offset, 60, "segment 0 committed")
        worker.stop()  # every worker of the group stopped: nothing consumes while the offset is moved
        sent += [publish(i) for i in (1, 2, 3)]
        assert {m.partition for m in sent} == {tp.partition}  # one camera, one partition
        assert sent[1].offset < sent[2].offset < sent[3].offset

        # The skip: the group's committed offset moved past segment 1, committed as a member of the group.
        commit_as_member(settings, group, tp, sent[2].offset)
        assert committed(admin, group, tp) == sent[2].offset

        worker = WorkerProcess.start(own.base, free_port(), env)
        wait_for(lambda: len(stored(store)) == 4 or None, 60, "segments 0..3 stored")
        # Everything the batch caused is on the broker once its offsets are committed.
        wait_for(lambda: (committed(admin, group, tp) or 0) > sent[3].offset, 60, "segment 3 committed")
        log = worker.log()
        metrics = scrape(f"http://127.0.0.1:{worker.metrics_port}/metrics")
    finally:
        admin.close()
        raw_producer.close()
        worker.stop()

    assert stored(store) == [segment_key(RECORDING, i) for i in range(4)]
    for i, body in enumerate(bodies):
        info = store.head(store.footage_bucket, segment_key(RECORDING, i))
        assert info is not None and info.metadata[META_SHA256] == hashlib.sha256(body).hexdigest()
        assert store.get(store.footage_bucket, segment_key(RECORDING, i)) == body
        # Where the stored segment was read: segment 1 from its own offset, by the repair.
        assert info.metadata[META_SOURCE] == f"{sent[i].partition}/{sent[i].offset}"

    verified = bwv("verify", RECORDING, env=env)
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout and "4 segments" in verified.stdout

    # The gap was filled before segment 2 was decided: no sequence_gap was ever raised, nothing refused.
    mine = [a for a in records(settings, ALERTS) if a.get("recording_id") == RECORDING]
    assert [a for a in mine if a["kind"] == "sequence_gap"] == []
    assert [r for r in records(settings, DEAD_LETTERS) if r.get("recording_id") == RECORDING] == []

    assert f"segment {RECORDING}/1 at {SEGMENTS}[{tp.partition}]@{sent[1].offset} was skipped by the consumer" in log
    assert value(metrics, "bwv_recovered_skips_total") >= 1
