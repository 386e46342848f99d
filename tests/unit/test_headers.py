from datetime import datetime, timedelta, timezone

import pytest

from schemas.headers import END_HEADER, SEGMENT_HEADER, HeaderError, decode_headers, encode_headers
from schemas.records import RecordingEnd, SegmentHeader

START = datetime(2026, 11, 25, 8, 30, 0, 123456, tzinfo=timezone.utc)


def header(**over: object) -> SegmentHeader:
    fields: dict[str, object] = dict(
        camera_id="cam-1",
        officer_id="officer-7",
        recording_id="cam-1-20261125T083000Z-abc123",
        sequence=3,
        capture_start=START,
        capture_end=START + timedelta(seconds=2),
        codec="h264",
        width=1920,
        height=1080,
        fps=29.97,
        byte_size=1_000_000,
        sha256="a" * 64,
    )
    fields.update(over)
    return SegmentHeader(**fields)  # type: ignore[arg-type]


def test_segment_header_round_trips_through_kafka_headers() -> None:
    h = header()
    encoded = encode_headers(h)
    assert [name for name, _ in encoded] == [SEGMENT_HEADER]
    assert decode_headers(encoded) == h
    assert decode_headers(dict(encoded)) == h  # clients hand headers over as dicts too


def test_end_marker_round_trips() -> None:
    end = RecordingEnd(camera_id="cam-1", recording_id="r-1", segment_count=9, ended_at=START)
    encoded = encode_headers(end)
    assert encoded[0][0] == END_HEADER
    assert decode_headers(encoded) == end


def test_times_are_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    h = header(capture_start=START.astimezone(plus_two), capture_end=(START + timedelta(seconds=2)).astimezone(plus_two))
    decoded = decode_headers(encode_headers(h))
    assert isinstance(decoded, SegmentHeader)
    assert decoded.capture_start.utcoffset() == timedelta(0)
    assert decoded.capture_start == START
    assert b'"capture_start":"2026-11-25T08:30:00.123456Z"' in encode_headers(h)[0][1]


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    raw = encode_headers(header())[0][1].replace(b"{", b'{"future_field":1,', 1)
    assert decode_headers([(SEGMENT_HEADER, raw)]) == header()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([], "missing_header"),
        ([("other", b"x")], "missing_header"),
        ([(SEGMENT_HEADER, b"not json")], "malformed_header"),
        ([(SEGMENT_HEADER, b"[1,2]")], "malformed_header"),
        ([(SEGMENT_HEADER, b'{"schema_version": 1}')], "malformed_header"),
        ([(SEGMENT_HEADER, b'{"schema_version": 99}')], "unknown_schema_version"),
        ([(SEGMENT_HEADER, b"\xff\xfe")], "malformed_header"),
    ],
)
def test_bad_headers_are_refused_with_a_reason(headers: list[tuple[str, bytes]], reason: str) -> None:
    with pytest.raises(HeaderError) as info:
        decode_headers(headers)
    assert info.value.reason == reason


def test_naive_times_and_unsafe_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        header(capture_start=START.replace(tzinfo=None))
    with pytest.raises(ValueError):
        header(recording_id="../etc/passwd")
    with pytest.raises(ValueError):
        header(sha256="XYZ")


# --- fuzzing: whatever arrives, the decoder answers with a record or a HeaderError ----
from hypothesis import given, settings, strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([SEGMENT_HEADER, END_HEADER, "x", ""]), st.binary(max_size=300)), max_size=3))
def test_decoder_never_raises_anything_but_header_error_on_bytes(headers: list[tuple[str, bytes]]) -> None:
    try:
        decode_headers(headers)
    except HeaderError as exc:
        assert exc.reason in {"missing_header", "malformed_header", "unknown_schema_version"}


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(list(SegmentHeader.model_fields)), json_values, max_size=14))
def test_decoder_never_raises_anything_but_header_error_on_json(fields: dict[str, object]) -> None:
    import json

    valid = json.loads(header().to_json())
    valid.update(fields)
    try:
        decoded = decode_headers([(SEGMENT_HEADER, json.dumps(valid).encode())])
    except HeaderError:
        return
    assert isinstance(decoded, SegmentHeader)
    assert decoded.capture_start.utcoffset() == timedelta(0)
