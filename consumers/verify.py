"""Re-reads a stored recording and checks it: every hash, the chain, nothing missing.

Storage is read without trusting any index: segment order comes from the keys,
each body is hashed again, and the chain is recomputed from the genesis value.
The first problem found is named with its sequence number and kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from schemas import chain
from schemas import seal as seals
from schemas.layout import seal_key, segments_prefix, sequence_of
from schemas.records import RecordingSeal, SegmentHeader
from streams.objectstore import META_CHAIN, META_HEADER, META_SHA256, ObjectInfo, ObjectStore


@dataclass(frozen=True)
class Problem:
    sequence: int
    kind: str  # missing | altered | out_of_order | chain_broken | unreadable
    detail: str

    def __str__(self) -> str:
        return f"segment {self.sequence}: {self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    recording_id: str
    segments: int = 0
    bytes: int = 0
    seconds: float = 0.0
    chain_head: str = ""
    last_sequence: int = -1
    problem: Problem | None = None
    seal: RecordingSeal | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.segments > 0

    def summary(self) -> str:
        if self.segments == 0 and self.problem is None:
            return f"recording {self.recording_id}: no stored segments found"
        if self.problem:
            return f"recording {self.recording_id}: FAILED at {self.problem}"
        if self.seal is None:
            sealed = ", not sealed yet (recording open)"
        elif self.seal.segment_count < self.segments:
            sealed = f", first {self.seal.segment_count} sealed by key {self.seal.key_id} (recording open again)"
        else:
            sealed = f", sealed by key {self.seal.key_id}"
        return (
            f"recording {self.recording_id}: intact — {self.segments} segments, {self.bytes:,} bytes, "
            f"{self.seconds:.1f} s, chain head {self.chain_head[:16]}…{sealed}"
        )


@dataclass(frozen=True)
class _Fetched:
    info: ObjectInfo
    body: bytes | None
    error: str = ""


def _fetch(store: ObjectStore, info: ObjectInfo) -> _Fetched:
    try:
        head = store.head(info.bucket, info.key)
        if head is None:
            return _Fetched(info, None, "object vanished while verifying")
        return _Fetched(head, store.get(info.bucket, info.key))
    except Exception as exc:  # noqa: BLE001 - reported as a problem, not a traceback
        return _Fetched(info, None, f"{type(exc).__name__}: {exc}")


def _fetch_in_order(store: ObjectStore, objects: list[ObjectInfo], threads: int) -> Iterator[_Fetched]:
    """Fetch ahead in parallel, but only a window's worth: a long recording must not sit in memory."""
    window = 2 * threads
    with ThreadPoolExecutor(threads) as pool:
        pending: deque[Future[_Fetched]] = deque()
        for info in objects:
            pending.append(pool.submit(_fetch, store, info))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def check_segment(expected: int, previous_chain: str, fetched: _Fetched) -> tuple[Problem | None, str, SegmentHeader | None]:
    """One segment against the chain so far; returns (problem, chain after it, header)."""
    key_sequence = sequence_of(fetched.info.key)
    if key_sequence != expected:
        return Problem(expected, "missing", f"no object for sequence {expected} (next is {key_sequence})"), previous_chain, None
    if fetched.body is None:
        return Problem(expected, "unreadable", fetched.error), previous_chain, None
    meta = fetched.info.metadata
    try:
        header = SegmentHeader.model_validate_json(meta[META_HEADER])
    except (KeyError, ValueError) as exc:
        return Problem(expected, "altered", f"segment metadata missing or unreadable ({exc.__class__.__name__})"), previous_chain, None
    if header.sequence != expected:
        return Problem(expected, "out_of_order", f"object holds sequence {header.sequence}"), previous_chain, header
    actual = hashlib.sha256(fetched.body).hexdigest()
    if actual != meta.get(META_SHA256) or actual != header.sha256:
        return Problem(expected, "altered", f"content SHA-256 {actual} differs from the recorded {header.sha256}"), previous_chain, header
    value = chain.link(previous_chain, actual, header)
    if value != meta.get(META_CHAIN):
        return Problem(expected, "chain_broken", "chain value differs: a segment before it was removed, reordered or edited"), value, header
    return None, value, header


def check_seal(
    seal: RecordingSeal,
    segments: int,
    last_sequence: int,
    chain_at: dict[int, str],
    trusted: dict[str, str],
    allow_unsealed_tail: bool = False,
) -> Problem | None:
    """A seal against what was found: trusted key, valid signature, nothing cut off or added.

    ``chain_at`` maps each sequence found to its chain value. Segments after the
    sealed ones are allowed only with ``allow_unsealed_tail`` (a recording that
    reopened and is still recording: its next seal will cover them).
    """
    if seal.key_id not in trusted:
        return Problem(last_sequence, "unknown_seal_key", f"sealed by key {seal.key_id!r}, which is not a published key")
    if not seals.valid(seal, trusted[seal.key_id]):
        return Problem(last_sequence, "bad_seal", "the seal's signature does not verify: the seal was altered or forged")
    if seal.segment_count > segments or seal.last_sequence > last_sequence:
        return Problem(
            segments, "truncated", f"sealed with {seal.segment_count} segments (last {seal.last_sequence}), {segments} found"
        )
    if chain_at.get(seal.last_sequence) != seal.chain_head or seal.last_sequence + 1 != seal.segment_count:
        return Problem(seal.last_sequence, "seal_mismatch", "the segments found do not lead to the sealed chain head")
    if seal.segment_count < segments and not allow_unsealed_tail:
        return Problem(
            seal.last_sequence + 1, "unsealed_tail",
            f"{segments - seal.segment_count} segment(s) after the sealed {seal.segment_count} (added after the seal)",
        )
    return None


def read_seal(store: ObjectStore, recording_id: str) -> RecordingSeal | None:
    if store.head(store.footage_bucket, seal_key(recording_id)) is None:
        return None
    return RecordingSeal.from_json(store.get(store.footage_bucket, seal_key(recording_id)))


def verify_recording(
    store: ObjectStore,
    recording_id: str,
    *,
    threads: int = 8,
    progress: Callable[[int, int], None] | None = None,
    trusted_keys: dict[str, str] | None = None,
    expect_sealed: bool = False,
    recording_open: bool = False,
) -> VerifyReport:
    """Hashes, chain, completeness; and with ``trusted_keys`` the seal (``expect_sealed``:
    the index says the recording closed, so a missing seal is itself a problem)."""
    report = VerifyReport(recording_id)
    objects = sorted(
        store.list(store.footage_bucket, segments_prefix(recording_id)), key=lambda o: sequence_of(o.key)
    )
    previous = chain.genesis(recording_id)
    chain_at: dict[int, str] = {}
    for expected, fetched in enumerate(_fetch_in_order(store, objects, threads)):
        problem, previous, header = check_segment(expected, previous, fetched)
        if problem:
            report.problem = problem
            return report
        assert header is not None
        report.segments += 1
        report.bytes += header.byte_size
        report.seconds += (header.capture_end - header.capture_start).total_seconds()
        report.chain_head = previous
        report.last_sequence = expected
        chain_at[expected] = previous
        if progress:
            progress(expected + 1, len(objects))
    if trusted_keys is not None and report.segments:
        report.seal = read_seal(store, recording_id)
        if report.seal is None:
            if expect_sealed:
                report.problem = Problem(report.last_sequence, "unsealed", "the recording is closed but its seal is missing")
        else:
            report.problem = check_seal(
                report.seal, report.segments, report.last_sequence, chain_at, trusted_keys, allow_unsealed_tail=recording_open
            )
    return report
