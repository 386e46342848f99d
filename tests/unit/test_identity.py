"""Camera identity: only a registered, unrevoked camera's own signature gets a message in."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from schemas.headers import encode_headers, signed_parts
from schemas.records import CameraKey, CameraKeyState, RecordingEnd
from schemas.signing import KeyFormatError, parse_public_key, public_key_hex, public_key_pem, sign, verify
from streams.identity import check_identity

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def registered(key: Ed25519PrivateKey = KEY, state: CameraKeyState = CameraKeyState.active) -> CameraKey:
    return CameraKey(camera_id="cam-1", state=state, public_key=public_key_hex(key), by="sgt-1")


def end_marker() -> RecordingEnd:
    return RecordingEnd(camera_id="cam-1", recording_id="rec-1", segment_count=3, ended_at=datetime.now(timezone.utc))


def reason(payload: bytes, signature: bytes | None, record: CameraKey | None, key: bytes = b"cam-1", require: bool = True) -> str | None:
    problem = check_identity("cam-1", key, payload, signature, record, require)
    return problem.reason if problem else None


def test_a_signed_header_round_trips_through_the_kafka_headers() -> None:
    marker = end_marker()
    payload, signature = signed_parts(encode_headers(marker, KEY))
    assert payload == marker.to_json()  # the exact bytes that were signed
    assert signature is not None and verify(public_key_hex(KEY), payload, signature)
    assert reason(payload, signature, registered()) is None


def test_every_refusal_has_its_reason() -> None:
    payload = end_marker().to_json()
    good = sign(KEY, payload)
    assert reason(payload, good, None) == "unknown_camera"
    assert reason(payload, good, registered(state=CameraKeyState.revoked)) == "camera_revoked"
    assert reason(payload, None, registered()) == "unsigned"
    assert reason(payload, sign(OTHER, payload), registered()) == "bad_signature"
    assert reason(payload, good[:10], registered()) == "bad_signature"
    assert reason(payload, good, registered(), key=b"cam-2") == "key_mismatch"
    assert reason(payload, good, registered(), key=None) == "key_mismatch"


def test_migration_mode_lets_unsigned_through_but_never_a_bad_signature() -> None:
    payload = end_marker().to_json()
    assert reason(payload, None, None, require=False) is None
    assert reason(payload, sign(OTHER, payload), registered(), require=False) == "bad_signature"


@given(st.binary(min_size=1, max_size=256), st.integers(min_value=0, max_value=10_000), st.integers(1, 255))
def test_any_changed_byte_of_the_signed_header_is_refused(payload: bytes, where: int, flip: int) -> None:
    signature = sign(KEY, payload)
    changed = bytearray(payload)
    changed[where % len(payload)] ^= flip
    assert reason(bytes(changed), signature, registered()) == "bad_signature"
    assert reason(payload, signature, registered()) is None


@given(st.binary(max_size=80))
def test_garbage_signatures_never_raise(signature: bytes) -> None:
    assert reason(b"{}", signature, registered()) == "bad_signature"


def test_public_keys_are_read_from_pem_or_hex_and_nothing_else() -> None:
    assert parse_public_key(public_key_pem(KEY)) == public_key_hex(KEY)
    assert parse_public_key(public_key_hex(KEY).encode() + b"\n") == public_key_hex(KEY)
    for bad in (b"", b"abcd", b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", b"z" * 64):
        with pytest.raises(KeyFormatError):
            parse_public_key(bad)
