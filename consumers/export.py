"""``bwv export``: recordings out of storage into an evidence bundle (``consumers/bundle.py``).

Steps for each recording (marked in the code):
  1. verify it in storage first (hashes, chain, seal): a damaged recording is
     refused with the reason, never exported as if it were good;
  2. copy each segment, exactly as stored, into a scratch directory (one GET
     each; nothing of a long recording is held in memory whole);
  3. remux the segments into one MP4 (no re-encode) and take its packet digest;
  4. take the custody log from the audit trail.
Then the zip is written (manifest, SHA256SUMS, summary; video stored, not
compressed), and each export is recorded as a custody event with who and why.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bwv.settings import Settings
from consumers.bundle import (
    MANIFEST,
    SUMMARY,
    SUMS,
    BundledRecording,
    Manifest,
    Mp4Entry,
    packets_digest,
    segment_entry,
)
from consumers.published import audit_trail, published_keys
from consumers.remux import remux_to_mp4
from consumers.verify import verify_recording
from schemas.layout import segments_prefix, sequence_of
from schemas.records import RecordingSeal, SegmentHeader, utcnow
from streams.commands import custody_event, record_custody
from streams.objectstore import META_CHAIN, META_HEADER, META_PREVIOUS_CHAIN, ObjectStore
from streams.readmodel import IndexView

Progress = Callable[[str, int, int], None]  # (what, done, total)


class ExportError(RuntimeError):
    """Nothing was exported; the message says why."""


@dataclass
class ExportReport:
    path: Path
    recordings: int
    segments: int
    bytes: int
    sha256: str


def export_bundle(
    settings: Settings,
    store: ObjectStore,
    recording_ids: list[str],
    out: Path,
    by: str,
    reason: str,
    view: IndexView | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    if not recording_ids:
        raise ExportError("no recordings to export")
    if not by.strip() or not reason.strip():
        raise ExportError("an export needs who takes it (--by) and why (--reason)")
    keys = published_keys(settings)
    report = progress or (lambda what, done, total: None)
    with tempfile.TemporaryDirectory(prefix="bwv-export-") as scratch:
        work = Path(scratch)
        bundled = [_collect(settings, store, rid, keys, work, report) for rid in recording_ids]
        manifest = Manifest(exported_at=utcnow(), exported_by=by, reason=reason, recordings=bundled, public_keys=keys)
        _write_zip(out, work, manifest)
    digest = _file_sha256(out)
    for rec in bundled:
        summary = view.recordings.get(rec.recording_id) if view else None
        event = custody_event("exported", by, summary, reason, {"bundle": out.name, "bundle_sha256": digest})
        if summary is None:  # still on the record, under the recording it concerns
            event = event.model_copy(update={"recording_id": rec.recording_id, "camera_id": rec.camera_id})
        record_custody(settings, event)
    return ExportReport(out, len(bundled), sum(len(r.segments) for r in bundled), out.stat().st_size, digest)


def _collect(settings: Settings, store: ObjectStore, rid: str, keys: dict[str, str], work: Path, report: Progress) -> BundledRecording:
    # step 1
    checked = verify_recording(store, rid, trusted_keys=keys)
    if checked.segments == 0:
        raise ExportError(f"recording {rid}: no stored segments")
    if checked.problem is not None:
        raise ExportError(f"recording {rid} fails verification, nothing exported: {checked.problem}")
    if checked.seal is None:
        raise ExportError(f"recording {rid} is still open (not sealed yet): export it once it has closed")
    # step 2
    base = f"recordings/{rid}"
    objects = sorted(store.list(store.footage_bucket, segments_prefix(rid)), key=lambda o: sequence_of(o.key))
    entries, files = [], []
    for done, obj in enumerate(objects, 1):
        info = store.head(store.footage_bucket, obj.key)
        if info is None:
            raise ExportError(f"recording {rid}: {obj.key} vanished while exporting")
        header = SegmentHeader.model_validate_json(info.metadata[META_HEADER])
        name = f"{base}/segments/{header.sequence:08d}.ts"
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(store.footage_bucket, obj.key))
        files.append(target)
        entries.append(segment_entry(header, name, info.metadata[META_PREVIOUS_CHAIN], info.metadata[META_CHAIN]))
        report(f"{rid}: segments", done, len(objects))
    # step 3
    report(f"{rid}: MP4", 0, 1)
    mp4 = work / base / "recording.mp4"
    remuxed = remux_to_mp4((f.read_bytes() for f in files), mp4)
    report(f"{rid}: MP4", 1, 1)
    # step 4
    trail = audit_trail(settings, rid)
    custody = work / base / "custody.jsonl"
    custody.write_text("".join(r.model_dump_json() + "\n" for r in trail))
    seal: RecordingSeal | None = checked.seal
    if seal is not None:
        (work / base / "seal.json").write_bytes(seal.to_json())
    first = entries[0]
    return BundledRecording(
        recording_id=rid, camera_id=first.camera_id, officer_id=first.officer_id, segments=entries, seal=seal,
        mp4=Mp4Entry(file=f"{base}/recording.mp4", sha256=_file_sha256(mp4), packets_sha256=packets_digest(mp4),
                     duration_seconds=round(remuxed.duration_seconds, 3), streams=remuxed.streams),
        custody_file=f"{base}/custody.jsonl", custody_records=len(trail),
    )


def _write_zip(out: Path, work: Path, manifest: Manifest) -> None:
    files = sorted(p for p in work.rglob("*") if p.is_file())
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")  # a cut-short export never looks like a bundle
    manifest_bytes = manifest.model_dump_json(indent=2).encode()
    sums = [f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}"]
    summary = _summary(manifest).encode()
    sums.append(f"{hashlib.sha256(summary).hexdigest()}  {SUMMARY}")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, manifest_bytes)
        archive.writestr(SUMMARY, summary)
        for path in files:
            name = path.relative_to(work).as_posix()
            archive.write(path, name)
            sums.append(f"{_file_sha256(path)}  {name}")
        archive.writestr(SUMS, "\n".join(sums) + "\n")
    partial.replace(out)


def _summary(manifest: Manifest) -> str:
    lines = [
        "bwv evidence bundle",
        f"exported {manifest.exported_at.isoformat(timespec='seconds')} by {manifest.exported_by}: {manifest.reason}",
        "",
    ]
    for rec in manifest.recordings:
        segs = rec.segments
        start, end = segs[0].capture_start, segs[-1].capture_end
        seal = f"sealed by key {rec.seal.key_id} ({rec.seal.segment_count} segments)" if rec.seal else "NOT sealed (open)"
        lines += [
            f"recording {rec.recording_id}: camera {rec.camera_id}, officer {rec.officer_id}",
            f"  captured {start.isoformat(timespec='seconds')} to {end.isoformat(timespec='seconds')} (UTC)",
            f"  {len(segs)} segments, chain head {segs[-1].chain}, {seal}",
            f"  playable copy: {rec.mp4.file if rec.mp4 else '-'} ({rec.mp4.duration_seconds if rec.mp4 else 0:.1f} s)",
            f"  custody log: {rec.custody_file} ({rec.custody_records} records)",
            "",
        ]
    lines += [
        "How to check it without bwv: see 'Checking a bundle yourself' in the bwv README;",
        "in short `sha256sum -c SHA256SUMS`, recompute the chain from manifest.json with hashlib,",
        "and verify each seal's Ed25519 signature with the published public key.",
    ]
    return "\n".join(lines) + "\n"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def recordings_in_window(view: IndexView, camera: str, since: datetime | None, until: datetime | None) -> list[str]:
    return [r.recording_id for r in reversed(view.find_recordings(camera=camera, since=since, until=until)) if r.state.value != "deleted"]
