"""Camera identity end to end: forged, unsigned, unknown and revoked cameras never reach the footage."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaProducer

from bwv.settings import Settings
from producers.keys import KeyRing
from producers.publisher import SegmentPublisher
from schemas.headers import SEGMENT_HEADER
from schemas.layout import segments_prefix
from schemas.signing import SIGNATURE_HEADER, sign
from schemas.topics import ALERTS, DEAD_LETTERS
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, bwv, records, wait_for
from tests.integration.test_bad_input import send, segment_headers
from tests.integration.test_pipeline import TS_PACKETS, ts_body

pytestmark = pytest.mark.integration


def letters(settings: Settings, camera: str) -> list[str]:
    return [str(r["reason"]) for r in records(settings, DEAD_LETTERS) if r.get("key") == camera]


def alerts(settings: Settings, camera: str) -> list[str]:
    return [str(a["reason"]) for a in records(settings, ALERTS) if a.get("kind") == "dead_letter" and a.get("camera_id") == camera]


def footage(settings: Settings, recording: str) -> list[str]:
    store = ObjectStore(settings)
    return [o.key for o in store.list(store.footage_bucket, segments_prefix(recording))]


def expect_refusal(settings: Settings, camera: str, reason: str) -> None:
    assert wait_for(lambda: letters(settings, camera), 30, f"{camera}'s dead letter") == [reason]
    assert wait_for(lambda: alerts(settings, camera), 15, f"{camera}'s alert") == [reason]


def test_cli_registers_lists_and_revokes_a_camera(settings: Settings, tmp_path: Path) -> None:
    made = bwv("cameras", "keygen", "cli-cam")
    assert made.returncode == 0, made.stderr
    pub = KeyRing(settings.camera_keys_dir).public_path("cli-cam")
    assert bwv("cameras", "add", "cli-cam", "--public-key", str(pub), "--by", "sgt-7", "--reason", "issued").returncode == 0
    listed = bwv("cameras", "list")
    assert "cli-cam" in listed.stdout and "active" in listed.stdout and "sgt-7" in listed.stdout
    assert bwv("cameras", "revoke", "cli-cam", "--by", "sgt-7", "--reason", "lost").returncode == 0
    assert "revoked" in bwv("cameras", "list").stdout
    again = bwv("cameras", "keygen", "cli-cam")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    refused = bwv("cameras", "add", "cli-cam", "--public-key", str(bad))
    assert refused.returncode == 2 and "Ed25519" in refused.stderr
    unknown = bwv("cameras", "revoke", "never-registered")
    assert unknown.returncode == 2 and "not registered" in unknown.stderr


def test_forged_unsigned_and_unknown_cameras_are_dead_lettered(
    settings: Settings, worker: WorkerProcess, raw_producer: KafkaProducer
) -> None:
    body = ts_body(7, TS_PACKETS)
    # Registered camera, but the message is signed by someone else's key.
    bwv("cameras", "keygen", "forged-cam")
    bwv("cameras", "add", "forged-cam", "--public-key", str(KeyRing(settings.camera_keys_dir).public_path("forged-cam")))
    headers = segment_headers("forged-cam", "forged-rec", 0, body)[:1]
    headers.append((SIGNATURE_HEADER, sign(Ed25519PrivateKey.generate(), headers[0][1])))
    send(raw_producer, "forged-cam", body, headers)
    expect_refusal(settings, "forged-cam", "bad_signature")
    # A camera nobody registered, sending unsigned.
    send(raw_producer, "forged-cam-2", body, segment_headers("forged-cam-2", "unsigned-rec", 0, body)[:1])
    expect_refusal(settings, "forged-cam-2", "unknown_camera")
    # A camera nobody registered, properly signed with its own key.
    send(raw_producer, "stranger-cam", body, segment_headers("stranger-cam", "stranger-rec", 0, body))
    expect_refusal(settings, "stranger-cam", "unknown_camera")
    for recording in ("forged-rec", "unsigned-rec", "stranger-rec"):
        assert footage(settings, recording) == []


def test_unsigned_message_from_a_registered_camera_is_refused(
    settings: Settings, worker: WorkerProcess, raw_producer: KafkaProducer
) -> None:
    body = ts_body(8, TS_PACKETS)
    bwv("cameras", "keygen", "unsigned-cam")
    bwv("cameras", "add", "unsigned-cam", "--public-key", str(KeyRing(settings.camera_keys_dir).public_path("unsigned-cam")))
    send(raw_producer, "unsigned-cam", body, [h for h in segment_headers("unsigned-cam", "nosig-rec", 0, body) if h[0] == SEGMENT_HEADER])
    expect_refusal(settings, "unsigned-cam", "unsigned")
    assert footage(settings, "nosig-rec") == []


def test_revoked_camera_is_refused_from_the_next_segment_on(settings: Settings, worker: WorkerProcess) -> None:
    from tests.integration.test_pipeline import _header

    camera, recording = "revoked-cam", "revoked-rec"
    assert bwv("cameras", "keygen", camera).returncode == 0
    assert bwv("cameras", "add", camera, "--public-key", str(KeyRing(settings.camera_keys_dir).public_path(camera))).returncode == 0
    publisher = SegmentPublisher(settings)
    first = ts_body(1, TS_PACKETS)
    publisher.publish(_header(recording, 0, first, camera_id=camera), first)
    publisher.flush()
    wait_for(lambda: footage(settings, recording) or None, 30, "the first segment stored")
    assert bwv("cameras", "revoke", camera, "--by", "sgt-7", "--reason", "camera stolen").returncode == 0
    second = ts_body(2, TS_PACKETS)
    publisher.publish(_header(recording, 1, second, camera_id=camera), second)
    publisher.flush()
    publisher.close()
    expect_refusal(settings, camera, "camera_revoked")
    assert len(footage(settings, recording)) == 1
