import hashlib

from schemas import chain
from streams.decisions import Action, RecordingState, decide
from tests.unit.test_headers import header


def seg(seq: int, body: bytes | None = None):  # type: ignore[no-untyped-def]
    body = body if body is not None else bytes([seq]) * 10
    return header(sequence=seq, byte_size=len(body), sha256=hashlib.sha256(body).hexdigest()), body


def state_after(n: int) -> RecordingState:
    state: RecordingState | None = None
    for i in range(n):
        h, body = seg(i)
        d = decide(state, h, h.sha256, len(body))
        assert d.action is Action.STORE and d.chain
        state = (state or RecordingState.empty(h)).after(h, d.chain)
    assert state is not None
    return state


def test_first_segment_extends_the_genesis_value() -> None:
    h, body = seg(0)
    d = decide(None, h, h.sha256, len(body))
    assert d.action is Action.STORE and d.gap is None
    assert d.chain == chain.link(chain.genesis(h.recording_id), h.sha256, h)


def test_hash_or_size_mismatch_is_quarantined() -> None:
    h, body = seg(0)
    assert decide(None, h, hashlib.sha256(b"x").hexdigest(), len(body)).action is Action.QUARANTINE
    assert decide(None, h, h.sha256, len(body) + 1).action is Action.QUARANTINE


def test_resent_sequence_is_a_duplicate() -> None:
    state = state_after(3)
    h, body = seg(1)
    assert decide(state, h, h.sha256, len(body)).action is Action.DUPLICATE


def test_gap_is_reported_and_chain_continues() -> None:
    state = state_after(2)
    h, body = seg(5)
    d = decide(state, h, h.sha256, len(body))
    assert d.action is Action.STORE
    assert d.gap == (2, 4)
    assert d.chain == chain.link(state.chain, h.sha256, h)


def test_recording_of_another_camera_is_rejected() -> None:
    state = state_after(1)
    h, body = seg(1)
    stranger = h.model_copy(update={"camera_id": "cam-2"})
    assert decide(state, stranger, h.sha256, len(body)).action is Action.REJECT


def test_state_round_trips_as_json() -> None:
    state = state_after(4)
    assert RecordingState.from_json(state.to_json()) == state
