import hashlib
import json

from schemas import chain
from tests.unit.test_headers import header


def test_genesis_is_derived_from_the_recording_id() -> None:
    assert chain.genesis("rec-1") == hashlib.sha256(b"bwv-chain-v1\nrec-1").hexdigest()
    assert chain.genesis("rec-1") != chain.genesis("rec-2")


def test_link_matches_the_documented_formula() -> None:
    h = header()
    previous = chain.genesis(h.recording_id)
    expected_meta = json.dumps(
        {
            "byte_size": h.byte_size,
            "camera_id": h.camera_id,
            "capture_end": "2026-11-25T08:30:02.123456Z",
            "capture_start": "2026-11-25T08:30:00.123456Z",
            "codec": "h264",
            "officer_id": h.officer_id,
            "recording_id": h.recording_id,
            "sequence": 3,
        },
        separators=(",", ":"),
    ).encode()
    assert chain.canonical_metadata(h) == expected_meta
    manual = hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(h.sha256) + expected_meta).hexdigest()
    assert chain.link(previous, h.sha256, h) == manual


def _chain(headers: list) -> list[str]:  # type: ignore[type-arg]
    value = chain.genesis(headers[0].recording_id)
    out = []
    for h in headers:
        value = chain.link(value, h.sha256, h)
        out.append(value)
    return out


def test_any_change_breaks_every_later_link() -> None:
    segs = [header(sequence=i, sha256=hashlib.sha256(bytes([i])).hexdigest()) for i in range(5)]
    good = _chain(segs)
    altered = list(segs)
    altered[2] = header(sequence=2, sha256=hashlib.sha256(b"other").hexdigest())
    bad = _chain(altered)
    assert bad[:2] == good[:2] and all(b != g for b, g in zip(bad[2:], good[2:]))
    swapped = [segs[0], segs[2], segs[1], segs[3], segs[4]]
    assert _chain(swapped)[-1] != good[-1]
    missing = segs[:2] + segs[3:]
    assert _chain(missing)[-1] != good[-1]
    retimed = list(segs)
    retimed[4] = header(sequence=4, sha256=segs[4].sha256, officer_id="someone-else")
    assert _chain(retimed)[-1] != good[-1]
