"""The evidence bundle: its manifest format and its verification (``bwv verify-bundle``).

A bundle is a zip a third party can check without trusting bwv:

    manifest.json                          this module's Manifest
    SHA256SUMS                             `sha256sum -c SHA256SUMS` checks every other file
    SUMMARY.txt                            for people
    recordings/<id>/segments/<seq>.ts      the segments exactly as stored
    recordings/<id>/recording.mp4          the segments remuxed into one MP4 (no re-encode)
    recordings/<id>/seal.json              the signed chain head (schemas/seal.py)
    recordings/<id>/custody.jsonl          the recording's audit trail (schemas/audit.py)

Checks (``verify_bundle``), each reported as a Problem naming what and why:
  1. every file listed in the manifest is there and has its SHA-256 and size;
  2. segments are numbered 0..n-1 in order, and the hash chain recomputed from
     them (schemas/chain.py) gives every chain value in the manifest;
  3. the seal verifies with a trusted public key and covers exactly these
     segments (count, last sequence, chain head): nothing cut off at the end;
  4. the MP4 holds exactly the packets a fresh remux of these segments gives;
  5. the custody log's own hash chain is intact.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict, ValidationError

from consumers.remux import RemuxError, remux_to_mp4
from consumers.verify import check_seal
from schemas import audit, chain
from schemas.records import AuditRecord, RecordingSeal, SegmentHeader

FORMAT = "bwv-evidence-bundle-v1"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SUMMARY = "SUMMARY.txt"


class SegmentEntry(BaseModel):
    """One segment: its file, hash, and the metadata the chain covers."""

    model_config = ConfigDict(extra="ignore")
    sequence: int
    file: str
    sha256: str
    byte_size: int
    camera_id: str
    officer_id: str
    recording_id: str
    capture_start: datetime
    capture_end: datetime
    codec: str
    previous_chain: str
    chain: str


class Mp4Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    file: str
    sha256: str
    packets_sha256: str  # over every packet's stream, timestamps and bytes: see packets_digest
    duration_seconds: float
    streams: list[str]


class BundledRecording(BaseModel):
    model_config = ConfigDict(extra="ignore")
    recording_id: str
    camera_id: str
    officer_id: str
    segments: list[SegmentEntry]
    seal: RecordingSeal | None
    mp4: Mp4Entry | None
    custody_file: str
    custody_records: int


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: str = FORMAT
    exported_at: datetime
    exported_by: str
    reason: str
    recordings: list[BundledRecording]
    public_keys: dict[str, str]  # key id -> Ed25519 public key (hex) of the seals
    chain_rule: str = "chain_0 = SHA-256('bwv-chain-v1\\n' || recording_id); chain_i = SHA-256(chain_{i-1} || sha256_i || canonical_metadata_i)"
    seal_rule: str = "Ed25519 over canonical JSON of format, recording_id, camera_id, segment_count, last_sequence, chain_head, sealed_at, key_id"


def segment_entry(header: SegmentHeader, file: str, previous_chain: str, chain_value: str) -> SegmentEntry:
    return SegmentEntry(
        sequence=header.sequence, file=file, sha256=header.sha256, byte_size=header.byte_size, camera_id=header.camera_id,
        officer_id=header.officer_id, recording_id=header.recording_id, capture_start=header.capture_start,
        capture_end=header.capture_end, codec=header.codec, previous_chain=previous_chain, chain=chain_value,
    )


def _as_header(entry: SegmentEntry) -> SegmentHeader:
    """The fields the chain's canonical metadata is made of, from a manifest entry."""
    return SegmentHeader(
        camera_id=entry.camera_id, officer_id=entry.officer_id, recording_id=entry.recording_id, sequence=entry.sequence,
        capture_start=entry.capture_start, capture_end=entry.capture_end, codec=entry.codec, width=1, height=1, fps=0,
        byte_size=entry.byte_size, sha256=entry.sha256,
    )


def packets_digest(mp4: bytes | Path) -> str:
    """SHA-256 over every packet of an MP4 in file order: stream index, pts, dts, bytes.

    Independent of the container's own metadata, so a fresh remux of the same
    segments gives the same digest, and any changed, missing or added frame does not.
    """
    digest = hashlib.sha256()
    source = io.BytesIO(mp4) if isinstance(mp4, bytes) else str(mp4)
    with av.open(source, "r") as container:
        for packet in container.demux():
            if packet.size == 0:
                continue
            digest.update(f"{packet.stream.index}:{packet.pts}:{packet.dts}:{packet.size}|".encode())
            digest.update(bytes(packet))
    return digest.hexdigest()


@dataclass(frozen=True)
class Problem:
    where: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.why}"


@dataclass
class BundleReport:
    recordings: int = 0
    segments: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.recordings > 0


def verify_bundle(path: Path, trusted_keys: dict[str, str]) -> BundleReport:
    report = BundleReport()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(Problem(str(path), f"not a readable zip ({exc})"))
        return report
    with archive:
        try:
            manifest = Manifest.model_validate_json(archive.read(MANIFEST))
        except (KeyError, ValidationError, ValueError) as exc:
            report.problems.append(Problem(MANIFEST, f"missing or unreadable ({type(exc).__name__})"))
            return report
        if manifest.format != FORMAT:
            report.problems.append(Problem(MANIFEST, f"format {manifest.format!r} is not {FORMAT!r}"))
        listed = {MANIFEST, SUMS, SUMMARY}
        for recording in manifest.recordings:
            report.recordings += 1
            report.segments += len(recording.segments)
            listed |= {s.file for s in recording.segments} | {recording.custody_file}
            if recording.mp4:
                listed.add(recording.mp4.file)
            report.problems += _check_recording(archive, recording, trusted_keys)
        extra = sorted(set(archive.namelist()) - listed - {f"recordings/{r.recording_id}/seal.json" for r in manifest.recordings})
        report.problems += [Problem(name, "in the bundle but not in the manifest (inserted)") for name in extra]
    return report


def _read(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        return archive.read(name)
    except KeyError:
        return None


def _check_recording(archive: zipfile.ZipFile, rec: BundledRecording, trusted: dict[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    where = f"recording {rec.recording_id}"
    previous = chain.genesis(rec.recording_id)
    chain_at: dict[int, str] = {}
    bodies: list[bytes] = []
    for position, entry in enumerate(rec.segments):
        at = f"{where} segment {entry.sequence}"
        if entry.sequence != position:
            problems.append(Problem(at, f"found at position {position}: segments missing, reordered or inserted"))
        if entry.recording_id != rec.recording_id or entry.camera_id != rec.camera_id:
            problems.append(Problem(at, f"belongs to recording {entry.recording_id} of camera {entry.camera_id} (inserted)"))
        body = _read(archive, entry.file)
        if body is None:
            problems.append(Problem(at, f"{entry.file} is missing"))
            continue
        bodies.append(body)
        actual = hashlib.sha256(body).hexdigest()
        if actual != entry.sha256 or len(body) != entry.byte_size:
            problems.append(Problem(at, f"altered: SHA-256 {actual[:16]}… / {len(body)} bytes, manifest says {entry.sha256[:16]}… / {entry.byte_size}"))
        if entry.previous_chain != previous:
            problems.append(Problem(at, "does not follow the segment before it in the chain (removed, reordered or inserted)"))
        previous = chain.link(previous, actual, _as_header(entry))
        chain_at[entry.sequence] = previous
        if previous != entry.chain:
            problems.append(Problem(at, "chain value differs: its bytes or metadata (times, ids, size) were changed"))
    last = rec.segments[-1].sequence if rec.segments else -1
    if rec.seal is None:
        problems.append(Problem(where, "no seal: its end cannot be checked"))
    else:
        if rec.seal.recording_id != rec.recording_id:
            problems.append(Problem(where, f"the seal is for recording {rec.seal.recording_id}"))
        issue = check_seal(rec.seal, len(rec.segments), last, chain_at, trusted)
        if issue is not None:
            problems.append(Problem(where, f"{issue.kind}: {issue.detail}"))
    problems += _check_mp4(archive, rec, bodies)
    problems += _check_custody(archive, rec)
    return problems


def _check_mp4(archive: zipfile.ZipFile, rec: BundledRecording, bodies: list[bytes]) -> list[Problem]:
    where = f"recording {rec.recording_id} MP4"
    if rec.mp4 is None:
        return [Problem(where, "missing from the manifest")]
    data = _read(archive, rec.mp4.file)
    if data is None:
        return [Problem(where, f"{rec.mp4.file} is missing")]
    problems = []
    if hashlib.sha256(data).hexdigest() != rec.mp4.sha256:
        problems.append(Problem(where, "altered: its SHA-256 differs from the manifest's"))
    try:
        with tempfile.TemporaryDirectory(prefix="bwv-verify-") as scratch:
            fresh = Path(scratch) / "fresh.mp4"  # a file: the muxer's faststart pass rewrites it in place
            remux_to_mp4(bodies, fresh)
            expected = packets_digest(fresh)
        found = packets_digest(data)
    except (RemuxError, av.FFmpegError) as exc:
        return [*problems, Problem(where, f"cannot be compared with the segments ({exc})")]
    if found != expected:
        problems.append(Problem(where, "is not made of exactly these segments (its packets differ from a fresh remux)"))
    elif found != rec.mp4.packets_sha256:
        problems.append(Problem(where, "its packet digest differs from the manifest's"))
    return problems


def _check_custody(archive: zipfile.ZipFile, rec: BundledRecording) -> list[Problem]:
    where = f"recording {rec.recording_id} custody log"
    data = _read(archive, rec.custody_file)
    if data is None:
        return [Problem(where, f"{rec.custody_file} is missing")]
    try:
        records = [AuditRecord.model_validate_json(line) for line in data.decode().splitlines() if line.strip()]
    except (ValidationError, UnicodeDecodeError) as exc:
        return [Problem(where, f"unreadable ({type(exc).__name__})")]
    problems = [Problem(where, f"record {p.index}: {p.why}") for p in audit.check(rec.recording_id, records)]
    if len(records) != rec.custody_records:
        problems.append(Problem(where, f"{len(records)} records, the manifest says {rec.custody_records}"))
    return problems
