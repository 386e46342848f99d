"""Kafka-header codec for bwv.segments: one versioned record per message, as JSON.

A message carries exactly one of two headers: ``bwv-segment`` (a segment; the
value is the raw segment bytes) or ``bwv-recording-end`` (an end marker; the value
is empty). Video bytes never get wrapped: the header is the only metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.records import Record, RecordingEnd, SegmentHeader
from schemas.signing import SIGNATURE_HEADER, sign

SEGMENT_HEADER = "bwv-segment"
END_HEADER = "bwv-recording-end"
SUPPORTED_VERSIONS = frozenset({1})

HeaderList = list[tuple[str, bytes]]


class HeaderError(ValueError):
    """A message whose headers are missing, malformed or of an unknown version."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode_headers(record: SegmentHeader | RecordingEnd, key: Ed25519PrivateKey | None = None) -> HeaderList:
    """The record's header, and with ``key`` the camera's signature of exactly those bytes."""
    name = SEGMENT_HEADER if isinstance(record, SegmentHeader) else END_HEADER
    payload = record.to_json()
    headers = [(name, payload)]
    if key is not None:
        headers.append((SIGNATURE_HEADER, sign(key, payload)))
    return headers


def signed_parts(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> tuple[bytes, bytes | None]:
    """(the bytes the camera signed, its signature or None): read before any parsing."""
    found = header_mapping(headers)
    payload = found.get(SEGMENT_HEADER, found.get(END_HEADER, b""))
    return payload, found.get(SIGNATURE_HEADER)


def header_mapping(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> dict[str, bytes]:
    """Kafka clients hand headers over as a list of pairs or a dict: one shape."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): bytes(v) if v is not None else b"" for k, v in items}


def _decode(cls: type[Record], raw: bytes) -> Record:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HeaderError("malformed_header", f"not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise HeaderError("malformed_header", "not a JSON object")
    version = payload.get("schema_version", 1)
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise HeaderError("unknown_schema_version", f"schema_version {version!r} is not one of {sorted(SUPPORTED_VERSIONS)}")
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise HeaderError("malformed_header", f"{where}: {first['msg']}") from None


def decode_headers(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None,
) -> SegmentHeader | RecordingEnd:
    """Decode the one bwv record of a bwv.segments message, or raise HeaderError."""
    found = header_mapping(headers)
    if SEGMENT_HEADER in found:
        return _decode(SegmentHeader, found[SEGMENT_HEADER])  # type: ignore[return-value]
    if END_HEADER in found:
        return _decode(RecordingEnd, found[END_HEADER])  # type: ignore[return-value]
    raise HeaderError("missing_header", f"neither {SEGMENT_HEADER!r} nor {END_HEADER!r} header present")
