"""Retention with second-long periods, on a stack of its own (its worker deletes whatever expires).

Unmarked recordings are deleted with a deletion record; marked ones survive and
storage refuses to delete them; release restarts the expiry; a restart does not
repeat a deletion; a legal hold set behind the worker's back wins; the audit
trail lists it all and its check catches a removed record.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bwv.settings import Settings
from bwv.stack import free_port
from producers.camera import CameraIdentity, build_header
from producers.publisher import SegmentPublisher
from producers.segmenter import segment_source
from schemas.layout import recording_prefix
from schemas.records import RecordingEnd
from schemas.topics import ALERTS, DELETIONS, RECORDINGS
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, own_stack, records, wait_for

pytestmark = pytest.mark.integration

RETENTION_SECONDS = 20
AGO = timedelta(seconds=8)  # recordings are "captured" this long ago: they expire soon after storing


@dataclass
class RetentionStack:
    settings: Settings
    env: dict[str, str]
    store: ObjectStore
    worker: WorkerProcess
    base: Path


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Iterator[RetentionStack]:
    base = tmp_path_factory.mktemp("retention")
    periods = {
        "BWV_RETENTION_DAYS": str(RETENTION_SECONDS / 86_400),
        "BWV_RETENTION_CHECK_INTERVAL": "0.5",
        # Every segment's thumbnail cut as it is stored: deletion must find each kind of object.
        "BWV_THUMBNAIL_INTERVAL_SECONDS": "0",
    }
    with own_stack(base, periods) as (env, settings):
        worker = WorkerProcess.start(base, free_port(), env)
        try:
            yield RetentionStack(settings, env, ObjectStore(settings), worker, base)
        finally:
            worker.stop()


def record(rs: RetentionStack, sample_video: Path, camera: str, recording: str) -> int:
    """A real recording (segments with pictures, so thumbnails too) captured AGO, with its end marker."""
    enroll_cameras(rs.settings, camera)
    identity = CameraIdentity(camera, "pc-9", recording)
    started = datetime.now(timezone.utc) - AGO
    publisher = SegmentPublisher(rs.settings)
    segments = list(segment_source(str(sample_video), 2.0))
    for segment in segments:
        publisher.publish(build_header(identity, segment, started), segment.data)
    last = segments[-1]
    publisher.publish_end(RecordingEnd(camera_id=camera, recording_id=recording, segment_count=len(segments),
                                       ended_at=started + timedelta(seconds=last.start + last.duration)))
    publisher.flush()
    publisher.close()
    return len(segments)


def objects(rs: RetentionStack, recording: str) -> list[str]:
    """Distinct keys that still hold a version (a seal re-made as segments came has several)."""
    return sorted({v.key for v in rs.store.versions(rs.store.footage_bucket, recording_prefix(recording))})


def summary(rs: RetentionStack, recording: str) -> dict | None:  # type: ignore[type-arg]
    found = [r for r in records(rs.settings, RECORDINGS) if r["recording_id"] == recording]
    return found[-1] if found else None


def deletions(rs: RetentionStack, recording: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in records(rs.settings, DELETIONS) if d["recording_id"] == recording]


def stored_with_thumbnails(rs: RetentionStack, recording: str, segments: int) -> list[str]:
    def ready() -> list[str] | None:
        keys = objects(rs, recording)
        s = summary(rs, recording)
        # segments, their thumbnails and the seal of the closed recording
        return keys if len(keys) == 2 * segments + 1 and s and s["state"] == "closed" else None

    return wait_for(ready, 60, f"{recording}: {segments} segments, their thumbnails, closed and sealed")


def cli(rs: RetentionStack, *args: str) -> tuple[int, str, str]:
    result = bwv(*args, env=rs.env)
    return result.returncode, result.stdout, result.stderr


def test_unmarked_recording_is_deleted_after_expiry_with_a_deletion_record(rs: RetentionStack, sample_video: Path) -> None:
    segments = record(rs, sample_video, "ret-cam-a", "ret-unmarked")
    keys = stored_with_thumbnails(rs, "ret-unmarked", segments)
    wait_for(lambda: objects(rs, "ret-unmarked") == [] or None, 40, "the footage to be deleted")
    [deletion] = wait_for(lambda: deletions(rs, "ret-unmarked"), 20, "the deletion record")
    assert deletion["complete"] and len(keys) == 2 * segments + 1
    assert sorted({o["key"] for o in deletion["objects"]}) == keys  # every version of every object
    assert deletion["object_count"] == len(deletion["objects"]) >= len(keys)
    assert all(o["sha256"] for o in deletion["objects"] if o["key"].endswith(".ts"))
    assert deletion["bytes"] > 0 and deletion["rule"].startswith("unmarked:")
    tombstone = wait_for(lambda: (s := summary(rs, "ret-unmarked")) and s["state"] == "deleted" and s, 20, "the tombstone")
    assert tombstone["deletion_id"] == deletion["deletion_id"] and tombstone.get("latest_thumbnail") is None
    # A restart of the worker does not delete (or record) it again.
    rs.worker.stop(signal.SIGKILL)
    rs.worker = WorkerProcess.start(rs.base, free_port(), rs.env)
    time.sleep(4)  # eight retention checks of the new worker
    assert len(deletions(rs, "ret-unmarked")) == 1


def test_marked_recording_survives_storage_refuses_then_release_and_expiry_delete(rs: RetentionStack, sample_video: Path) -> None:
    segments = record(rs, sample_video, "ret-cam-b", "ret-marked")
    stored_with_thumbnails(rs, "ret-marked", segments)
    code, out, err = cli(rs, "evidence", "mark", "ret-marked", "--by", "sgt-7", "--reason", "assault, case 42")
    assert code == 0, err
    assert "evidential, legal hold on every object, expires never" in out
    time.sleep(RETENTION_SECONDS + 3)  # well past the unmarked expiry
    kept = objects(rs, "ret-marked")
    assert len(kept) == 2 * segments + 1 and deletions(rs, "ret-marked") == []
    bucket = rs.store.footage_bucket
    refused = rs.store.delete_versions(bucket, [(v.key, v.version_id) for v in rs.store.versions(bucket, recording_prefix("ret-marked"))])
    assert sorted(set(refused)) == kept  # storage itself refuses: the legal hold, not our code
    code, out, err = cli(rs, "evidence", "release", "ret-marked", "--by", "sgt-7", "--reason", "case closed")
    assert code == 0, err
    assert "unmarked, no legal hold" in out
    assert len(objects(rs, "ret-marked")) == 2 * segments + 1  # the expiry restarted from the release
    wait_for(lambda: objects(rs, "ret-marked") == [] or None, 40, "deletion after release and expiry")
    assert len(wait_for(lambda: deletions(rs, "ret-marked"), 20, "the deletion record")) == 1


def test_audit_trail_lists_every_event_in_order_and_catches_a_removed_record(rs: RetentionStack, sample_video: Path, tmp_path: Path) -> None:
    wait_for(lambda: deletions(rs, "ret-marked"), 90, "the marked recording's life to end")

    def whole_trail() -> str | None:
        code, out, _ = cli(rs, "audit", "ret-marked", "--json")
        kinds = [json.loads(line)["event"]["kind"] for line in out.splitlines() if line.strip()]
        return out if code == 0 and kinds and kinds[-1] == "deleted" else None

    saved = wait_for(whole_trail, 30, "the audit trail through the deletion")
    events = [json.loads(line)["event"] for line in saved.splitlines()]
    kinds = [e["kind"] for e in events]
    [deletion] = deletions(rs, "ret-marked")
    assert kinds.count("stored") == len([o for o in deletion["objects"] if o["key"].endswith(".ts")]) >= 3
    assert [k for k in kinds if k != "stored"] == ["marked", "released", "deleted"]
    assert kinds.index("marked") > max(i for i, k in enumerate(kinds) if k == "stored")
    marked = events[kinds.index("marked")]
    assert marked["actor"] == "sgt-7" and marked["reason"] == "assault, case 42"
    code, out, err = cli(rs, "audit", "ret-marked")
    assert code == 0 and "intact" in err and "sgt-7" in out
    trail = tmp_path / "trail.jsonl"
    lines = saved.splitlines()
    trail.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # one record removed
    code, _, err = cli(rs, "audit", "--file", str(trail))
    assert code == 1 and "BROKEN" in err and "audit record 1" in err


def test_a_legal_hold_set_behind_the_workers_back_wins_over_deletion(rs: RetentionStack, sample_video: Path) -> None:
    segments = record(rs, sample_video, "ret-cam-c", "ret-raced")
    keys = stored_with_thumbnails(rs, "ret-raced", segments)
    held = next(k for k in keys if "/segments/" in k)
    rs.store.set_legal_hold(rs.store.footage_bucket, held, None, True)  # e.g. another worker's mark, mid-rebalance
    [deletion] = wait_for(lambda: deletions(rs, "ret-raced"), 40, "the (partial) deletion record")
    assert deletion["complete"] is False and deletion["refused"] == [held]
    assert objects(rs, "ret-raced") == [held]
    alerts = [a for a in records(rs.settings, ALERTS) if a.get("kind") == "deletion_refused" and a.get("recording_id") == "ret-raced"]
    assert len(alerts) == 1
    assert wait_for(lambda: (s := summary(rs, "ret-raced")) and s["legal_hold"] and s, 10, "the summary to show the hold")
