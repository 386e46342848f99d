"""The ingest boundary: every kind of bad message gets one dead letter and one alert, nothing else."""

from __future__ import annotations

import hashlib
import json

import pytest
from kafka import KafkaProducer

from bwv.settings import Settings
from producers.keys import KeyRing
from schemas.headers import SEGMENT_HEADER
from schemas.signing import SIGNATURE_HEADER, sign
from schemas.layout import segments_prefix
from schemas.topics import ALERTS, DEAD_LETTERS, SEGMENTS
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, records, wait_for
from tests.integration.test_pipeline import _header

pytestmark = pytest.mark.integration

TS = b"\x47" + b"\x11" * 187


def send(producer: KafkaProducer, camera: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    producer.send(SEGMENTS, key=camera.encode(), value=value, headers=headers)
    producer.flush()


def segment_headers(camera: str, recording: str, sequence: int, body: bytes, **over: object) -> list[tuple[str, bytes]]:
    """A header as the camera would send it, signed with its key (bad input is not forged input)."""
    fields = json.loads(_header(recording, sequence, body).model_dump_json())
    fields.update(camera_id=camera, **over)
    payload = json.dumps(fields).encode()
    return [(SEGMENT_HEADER, payload), (SIGNATURE_HEADER, sign(KeyRing(Settings().camera_keys_dir).ensure(camera), payload))]


def letters_for(settings: Settings, camera: str) -> list[dict[str, object]]:
    return [r for r in records(settings, DEAD_LETTERS) if r.get("key") == camera]


def alerts_for(settings: Settings, camera: str) -> list[dict[str, object]]:
    return [a for a in records(settings, ALERTS) if a.get("kind") == "dead_letter" and a.get("camera_id") == camera]


def expect_one_dead_letter(settings: Settings, camera: str, reason: str) -> dict[str, object]:
    letters = wait_for(lambda: letters_for(settings, camera), 30, f"a dead letter for {camera}")
    assert [lt["reason"] for lt in letters] == [reason]
    return letters[0]


CASES = {
    "missing_header": lambda cam: (TS * 4, [("something-else", b"1")]),
    "malformed_header": lambda cam: (TS * 4, [(SEGMENT_HEADER, b"{not json")]),
    "unknown_schema_version": lambda cam: (TS * 4, segment_headers(cam, f"{cam}-rec", 0, TS * 4, schema_version=7)),
    "not_video": lambda cam: (b"%PDF-1.7 not a video" * 50, segment_headers(cam, f"{cam}-rec", 0, b"%PDF-1.7 not a video" * 50)),
    "segment_too_large": lambda cam: (TS * 12000, segment_headers(cam, f"{cam}-rec", 0, TS * 12000)),
    "sequence_too_far": lambda cam: (TS * 4, segment_headers(cam, f"{cam}-rec", 99_999, TS * 4)),
}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_bad_message_gets_one_dead_letter_and_one_alert(
    reason: str, settings: Settings, worker: WorkerProcess, raw_producer: KafkaProducer
) -> None:
    camera = f"bad-{reason.replace('_', '-')}"
    enroll_cameras(settings, camera)
    value, headers = CASES[reason](camera)
    send(raw_producer, camera, value, headers)
    letter = expect_one_dead_letter(settings, camera, reason)
    assert letter["byte_size"] == len(value)
    assert set(letter["headers"]) == {name for name, _ in headers}  # type: ignore[arg-type]
    if reason not in ("missing_header", "malformed_header", "unknown_schema_version"):
        assert letter["camera_id"] == camera
        alerts = wait_for(lambda: alerts_for(settings, camera), 15, "the alert")
        assert len(alerts) == 1 and alerts[0]["reason"] == reason
    store = ObjectStore(settings)
    assert list(store.list(store.footage_bucket, segments_prefix(f"{camera}-rec"))) == []
    kept = list(store.list(store.quarantine_bucket, f"rejected/{SEGMENTS}/"))
    assert any(o.key.endswith(hashlib.sha256(value).hexdigest() + ".bin") for o in kept)  # bytes are never dropped


def test_replayed_and_reused_segments_are_refused_and_good_footage_untouched(
    settings: Settings, worker: WorkerProcess, raw_producer: KafkaProducer
) -> None:
    owner, stranger, recording = "replay-owner", "replay-stranger", "replay-rec-1"
    enroll_cameras(settings, owner, stranger)
    bodies = [TS * (i + 2) for i in range(3)]
    for i, body in enumerate(bodies):
        send(raw_producer, owner, body, segment_headers(owner, recording, i, body))
    store = ObjectStore(settings)
    wait_for(lambda: len(list(store.list(store.footage_bucket, segments_prefix(recording)))) == 3 or None, 30, "3 segments")
    send(raw_producer, owner, bodies[1], segment_headers(owner, recording, 1, bodies[1]))  # replay
    expect_one_dead_letter(settings, owner, "replayed_segment")
    intruder = TS * 9
    send(raw_producer, stranger, intruder, segment_headers(stranger, recording, 3, intruder))  # id reuse
    expect_one_dead_letter(settings, stranger, "recording_reused")
    assert len(wait_for(lambda: alerts_for(settings, owner), 15, "the replay alert")) == 1
    assert len(wait_for(lambda: alerts_for(settings, stranger), 15, "the reuse alert")) == 1
    assert len(list(store.list(store.footage_bucket, segments_prefix(recording)))) == 3
    assert bwv("verify", recording).returncode == 0
