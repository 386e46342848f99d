"""Retention rules and the audit chain: pure, so every case is checked without a broker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas import audit
from schemas.records import CustodyEvent, EvidenceAction, EvidenceCommand, RecordingStateName, RecordingSummary
from streams.retention import RecordingEntry, apply_command, due, expiry, rule_of

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
CATS: dict[str, float | None] = {"unmarked": 31, "evidential": None, "training": 365}


def summary(**over: object) -> RecordingSummary:
    base = RecordingSummary(
        recording_id="rec-1", camera_id="cam-1", officer_id="pc-1", state=RecordingStateName.closed, closed_reason="end_marker",
        start=T0, end=T0 + timedelta(minutes=5), segment_count=150, duration_seconds=300, bytes=10**8,
    )
    base = base.model_copy(update=over)
    return base.model_copy(update={"expires_at": expiry(base, CATS)})


def command(action: EvidenceAction, **over: object) -> EvidenceCommand:
    fields = {"command_id": f"cmd-{action.value}-0001", "action": action, "recording_id": "rec-1", "camera_id": "cam-1",
              "by": "sgt-1", "reason": "case 42", **over}
    return EvidenceCommand(**fields)  # type: ignore[arg-type]


def test_unmarked_expires_31_days_after_capture_end_and_only_when_closed() -> None:
    s = summary()
    assert s.expires_at == T0 + timedelta(minutes=5, days=31)
    assert not due(s, s.expires_at - timedelta(seconds=1)) and due(s, s.expires_at)
    assert not due(s.model_copy(update={"closed_reason": None}), s.expires_at + timedelta(days=1))
    assert rule_of(s, CATS) == "unmarked: 31 days after capture end"


def test_mark_holds_and_removes_the_expiry_release_restarts_it() -> None:
    entry = RecordingEntry(summary=summary(), partition=0)
    marked = apply_command(entry, command(EvidenceAction.mark), CATS, T0 + timedelta(days=2))
    assert marked.hold is True and marked.summary is not None
    assert marked.summary.legal_hold and marked.summary.expires_at is None and marked.summary.retention_category == "evidential"
    assert not due(marked.summary, T0 + timedelta(days=400))
    entry = RecordingEntry(summary=marked.summary, partition=0, commands=["cmd-mark-0001"])
    released_at = T0 + timedelta(days=40)
    released = apply_command(entry, command(EvidenceAction.release, command_id="cmd-release-01"), CATS, released_at)
    assert released.hold is False and released.summary is not None
    assert released.summary.expires_at == released_at + timedelta(days=31)  # restarted from the release
    assert rule_of(released.summary, CATS) == "unmarked: 31 days after release"


def test_a_category_with_days_keeps_longer_without_a_hold_and_extend_adds_days() -> None:
    entry = RecordingEntry(summary=summary(), partition=0)
    training = apply_command(entry, command(EvidenceAction.mark, category="training"), CATS, T0)
    assert training.hold is False and training.summary and training.summary.expires_at == T0 + timedelta(minutes=5, days=365)
    longer = apply_command(RecordingEntry(summary=summary(), partition=0), command(EvidenceAction.extend, days=10), CATS, T0)
    assert longer.summary and longer.summary.expires_at == T0 + timedelta(minutes=5, days=41)


@pytest.mark.parametrize(
    ("state", "cmd", "why"),
    [
        ({"state": RecordingStateName.deleted}, command(EvidenceAction.mark), "deleted"),
        ({}, command(EvidenceAction.release), "not marked"),
        ({}, command(EvidenceAction.mark, category="nonsense"), "unknown retention category"),
        ({"retention_category": "evidential", "legal_hold": True}, command(EvidenceAction.extend, days=3), "no expiry"),
    ],
)
def test_refusals(state: dict[str, object], cmd: EvidenceCommand, why: str) -> None:
    outcome = apply_command(RecordingEntry(summary=summary(**state), partition=0), cmd, CATS, T0)
    assert outcome.summary is None and outcome.refused and why in outcome.refused


def test_a_command_applied_twice_counts_once() -> None:
    entry = RecordingEntry(summary=summary(), partition=0, commands=["cmd-mark-0001"])
    outcome = apply_command(entry, command(EvidenceAction.mark), CATS, T0)
    assert outcome.summary is None and outcome.refused is None


def trail(n: int) -> list:  # type: ignore[type-arg]
    records, previous = [], audit.genesis("rec-1")
    for i in range(n):
        event = CustodyEvent(event_id=f"event-{i:04d}", kind="stored", recording_id="rec-1", camera_id="cam-1",
                             actor="bwv-ingest", detail={"sequence": i}, at=T0 + timedelta(seconds=i))
        record = audit.seal("rec-1", i, previous, event)
        records.append(record)
        previous = record.hash
    return records


def test_audit_chain_detects_a_removed_an_edited_and_a_swapped_record() -> None:
    records = trail(5)
    assert audit.check("rec-1", records) == []
    assert audit.check("rec-1", records[:2] + records[3:])  # removed
    edited = records[2].model_copy(update={"event": records[2].event.model_copy(update={"actor": "someone-else"})})
    assert [p.index for p in audit.check("rec-1", records[:2] + [edited] + records[3:])] == [2]
    assert audit.check("rec-1", [records[1], records[0], *records[2:]])  # swapped
    assert audit.check("rec-2", records)  # another recording's chain
