import hashlib

from hypothesis import given, settings, strategies as st

from schemas import chain
from streams.decisions import Action, Limits, Observed, RecordingState, decide, is_mpegts
from tests.unit.test_headers import header

LIMITS = Limits(max_segment_bytes=10_000, max_sequence_jump=100)
TS_BODY = b"\x47" + b"\x00" * 187


def seg(seq: int, packets: int = 2):  # type: ignore[no-untyped-def]
    body = (b"\x47" + bytes([seq % 256]) * 187) * packets
    return header(sequence=seq, byte_size=len(body), sha256=hashlib.sha256(body).hexdigest()), body


def seen(body: bytes, offset: int = -1, sha256: str | None = None, partition: int = 0) -> Observed:
    return Observed(sha256 or hashlib.sha256(body).hexdigest(), len(body), is_mpegts(body), partition, offset)


def state_after(n: int) -> RecordingState:
    state: RecordingState | None = None
    for i in range(n):
        h, body = seg(i)
        obs = seen(body, offset=i)
        d = decide(state, h, obs, LIMITS)
        assert d.action is Action.STORE and d.chain
        state = (state or RecordingState.empty(h)).after(h, d.chain, obs)
    assert state is not None
    return state


def test_first_segment_extends_the_genesis_value() -> None:
    h, body = seg(0)
    d = decide(None, h, seen(body), LIMITS)
    assert d.action is Action.STORE and d.gap is None
    assert d.chain == chain.link(chain.genesis(h.recording_id), h.sha256, h)


def test_hash_or_size_mismatch_is_quarantined() -> None:
    h, body = seg(0)
    assert decide(None, h, seen(body, sha256="0" * 64), LIMITS).action is Action.QUARANTINE
    longer = body + TS_BODY
    assert decide(None, h, seen(longer, sha256=h.sha256), LIMITS).action is Action.QUARANTINE


def test_redelivery_after_a_restart_is_not_a_replay() -> None:
    state = state_after(3)
    h, body = seg(1)
    assert decide(state, h, seen(body, offset=1), LIMITS).action is Action.REDELIVERED
    assert decide(state, h, seen(body, offset=7), LIMITS).action is Action.DUPLICATE
    assert decide(state, h, seen(body, offset=1, partition=3), LIMITS).action is Action.DUPLICATE


def test_gap_is_reported_and_chain_continues() -> None:
    state = state_after(2)
    h, body = seg(5)
    d = decide(state, h, seen(body, offset=9), LIMITS)
    assert d.action is Action.STORE
    assert d.gap == (2, 4)
    assert d.chain == chain.link(state.chain, h.sha256, h)


def test_boundary_refusals_have_stable_reasons() -> None:
    state = state_after(1)
    h, body = seg(1)
    stranger = h.model_copy(update={"camera_id": "cam-2"})
    assert decide(state, stranger, seen(body), LIMITS).reason == "recording_reused"
    big = TS_BODY * 60
    assert decide(state, h, seen(big), LIMITS).reason == "segment_too_large"
    assert decide(state, h, seen(b"hello world" * 30), LIMITS).reason == "not_video"
    far, far_body = seg(200)
    assert decide(state, far, seen(far_body), LIMITS).reason == "sequence_too_far"
    assert decide(None, far, seen(far_body), LIMITS).reason == "sequence_too_far"


def test_state_round_trips_as_json() -> None:
    state = state_after(4)
    assert RecordingState.from_json(state.to_json()) == state


def test_mpegts_check() -> None:
    assert is_mpegts(TS_BODY * 3)
    assert not is_mpegts(b"")
    assert not is_mpegts(TS_BODY[:-1])
    assert not is_mpegts(TS_BODY + b"\x00" * 188)


# --- properties ---------------------------------------------------------------
@st.composite
def histories(draw: st.DrawFn) -> list[tuple[int, bytes, int]]:
    """A camera's messages: (sequence, body, offset) with resends, gaps, reorders and junk."""
    n = draw(st.integers(1, 25))
    out = []
    for offset in range(n):
        seq = draw(st.integers(0, 30))
        kind = draw(st.sampled_from(["ts", "ts", "ts", "junk", "big"]))
        body = {"ts": (b"\x47" + bytes([seq]) * 187) * 2, "junk": b"x" * 400, "big": TS_BODY * 100}[kind]
        out.append((seq, body, offset))
    return out


@settings(max_examples=300, deadline=None)
@given(histories(), st.booleans())
def test_stored_sequences_only_grow_and_the_chain_is_a_function_of_what_was_stored(
    history: list[tuple[int, bytes, int]], wrong_hash: bool
) -> None:
    state: RecordingState | None = None
    stored: list[tuple[int, str]] = []
    for seq, body, offset in history:
        h = header(sequence=seq, byte_size=len(body), sha256=hashlib.sha256(body).hexdigest())
        obs = seen(body, offset=offset, sha256="0" * 64 if wrong_hash and offset == 0 else None)
        d = decide(state, h, obs, LIMITS)
        if d.action is Action.STORE:
            assert state is None or seq > state.last_sequence  # never goes back, never stores twice
            assert obs.sha256 == h.sha256 and obs.is_video and obs.size <= LIMITS.max_segment_bytes
            assert d.chain is not None
            state = (state or RecordingState.empty(h)).after(h, d.chain, obs)
            stored.append((seq, h.sha256))
        else:
            assert d.chain is None
        if d.action is Action.REJECT:
            assert d.reason in {"segment_too_large", "not_video", "sequence_too_far", "recording_reused"}
    # Recomputing the chain from the stored segments alone gives the state's head.
    value = chain.genesis(header().recording_id)
    for seq, sha in stored:
        body_len = 376
        value = chain.link(value, sha, header(sequence=seq, byte_size=body_len, sha256=sha))
    assert state is None or state.chain == value
