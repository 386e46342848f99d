"""Evidence bundles: a real recording exported, played back, verified, and every kind of tampering named."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bwv.settings import Settings
from consumers.published import audit_trail, latest_summary
from schemas import seal as seals
from schemas.layout import segment_key
from schemas.records import RecordingSeal
from streams.objectstore import ObjectStore
from tests.helpers import WorkerProcess, bwv, enroll_cameras, wait_for

pytestmark = pytest.mark.integration

Files = dict[str, bytes]


@pytest.fixture(scope="module")
def sealed(settings: Settings, worker: WorkerProcess, sample_video: Path) -> dict[str, object]:
    enroll_cameras(settings, "exp-cam", "exp-other")
    recordings = {}
    for camera in ("exp-cam", "exp-other"):
        result = bwv("camera", "--source", str(sample_video), "--camera-id", camera, "--officer", "pc-77", "--quiet")
        assert result.returncode == 0, result.stderr
        recordings[camera] = result.stdout.strip().splitlines()[0]
    for rid in recordings.values():
        wait_for(lambda r=rid: (s := latest_summary(settings, r)) and s.sealed_segment_count == s.segment_count and s, 60, f"{rid} sealed")
    return {"recording": recordings["exp-cam"], "other": recordings["exp-other"]}


@pytest.fixture(scope="module")
def bundle(sealed: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "case-42.zip"
    result = bwv("export", str(sealed["recording"]), "--out", str(out), "--by", "sgt-7", "--reason", "CPS request, case 42")
    assert result.returncode == 0, result.stderr
    assert "1 recording(s)" in result.stdout
    return out


def read(path: Path) -> Files:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def write(files: Files, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def verify(path: Path, *extra: str) -> tuple[int, str]:
    result = bwv("verify-bundle", str(path), *extra)
    return result.returncode, result.stdout + result.stderr


def test_verify_passes_on_stored_footage_with_its_seal(sealed: dict[str, object]) -> None:
    result = bwv("verify", str(sealed["recording"]))
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout and "sealed by key" in result.stdout


def test_bundle_plays_back_and_verifies(bundle: Path, sample_video: Path, settings: Settings, sealed: dict[str, object]) -> None:
    files = read(bundle)
    rid = str(sealed["recording"])
    manifest = json.loads(files["manifest.json"])
    [rec] = manifest["recordings"]
    with av.open(io.BytesIO(files[rec["mp4"]["file"]])) as mp4, av.open(str(sample_video)) as source:
        assert mp4.streams.video and mp4.streams.audio  # audio is evidence too
        frames = sum(1 for _ in mp4.decode(video=0))
        played = frames / float(mp4.streams.video[0].average_rate)
        assert abs(played - float(source.duration or 0) / 1e6) <= 2.0  # within one segment
    sums = dict(reversed(line.split("  ", 1)) for line in files["SHA256SUMS"].decode().splitlines())
    assert all(hashlib.sha256(files[name]).hexdigest() == digest for name, digest in sums.items())
    code, output = verify(bundle)
    assert code == 0, output
    assert "VERIFIED" in output
    assert any(r.event.kind == "exported" and r.event.actor == "sgt-7" for r in audit_trail(settings, rid))
    assert "CPS request" in files["SUMMARY.txt"].decode()


def _manifest_edit(edit: Callable[[dict], None]) -> Callable[[Files], None]:  # type: ignore[type-arg]
    def apply(files: Files) -> None:
        manifest = json.loads(files["manifest.json"])
        edit(manifest["recordings"][0])
        files["manifest.json"] = json.dumps(manifest).encode()

    return apply


def flip_byte(files: Files) -> None:
    name = sorted(n for n in files if n.endswith(".ts"))[1]
    data = bytearray(files[name])
    data[len(data) // 2] ^= 1
    files[name] = bytes(data)


def remove_segment(files: Files) -> None:
    name = sorted(n for n in files if n.endswith(".ts"))[1]
    del files[name]
    _manifest_edit(lambda rec: rec["segments"].pop(1))(files)


def swap_segments(files: Files) -> None:
    a, b = sorted(n for n in files if n.endswith(".ts"))[1:3]
    files[a], files[b] = files[b], files[a]


def remove_last_and_edit_manifest(files: Files) -> None:
    last = sorted(n for n in files if n.endswith(".ts"))[-1]
    del files[last]

    def edit(rec: dict) -> None:  # type: ignore[type-arg]
        rec["segments"].pop()

    _manifest_edit(edit)(files)


def edit_time(files: Files) -> None:
    def edit(rec: dict) -> None:  # type: ignore[type-arg]
        rec["segments"][1]["capture_start"] = "2020-01-01T00:00:00Z"

    _manifest_edit(edit)(files)


def resign_with_another_key(files: Files) -> None:
    other = Ed25519PrivateKey.generate()

    def edit(rec: dict) -> None:  # type: ignore[type-arg]
        forged = seals.signed(RecordingSeal.model_validate(rec["seal"]), other)
        rec["seal"] = json.loads(forged.model_dump_json())

    _manifest_edit(edit)(files)


CASES: dict[str, tuple[Callable[[Files], None], str]] = {
    "flipped byte": (flip_byte, "altered"),
    "removed segment": (remove_segment, "removed, reordered or inserted"),
    "swapped segments": (swap_segments, "altered"),
    "last segment removed, manifest edited": (remove_last_and_edit_manifest, "truncated"),
    "edited manifest time": (edit_time, "chain value differs"),
    "signature by another key": (resign_with_another_key, "unknown_seal_key"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_named(case: str, bundle: Path, tmp_path: Path) -> None:
    tamper, expected = CASES[case]
    files = read(bundle)
    tamper(files)
    code, output = verify(write(files, tmp_path / "tampered.zip"))
    assert code == 1, output
    assert "NOT VERIFIED" in output and expected in output, output


def test_an_inserted_foreign_segment_is_named(bundle: Path, sealed: dict[str, object], settings: Settings, tmp_path: Path) -> None:
    store = ObjectStore(settings)
    other = str(sealed["other"])
    foreign = store.get(store.footage_bucket, segment_key(other, 1))
    files = read(bundle)
    manifest = json.loads(files["manifest.json"])
    rec = manifest["recordings"][0]
    entry = dict(rec["segments"][1], file=f"recordings/{rec['recording_id']}/segments/foreign.ts",
                 sha256=hashlib.sha256(foreign).hexdigest(), byte_size=len(foreign))
    rec["segments"].insert(2, entry)
    files["manifest.json"] = json.dumps(manifest).encode()
    files[entry["file"]] = foreign
    code, output = verify(write(files, tmp_path / "inserted.zip"))
    assert code == 1 and "removed, reordered or inserted" in output, output


def test_verify_bundle_with_a_pinned_key_and_a_wrong_one(bundle: Path, settings: Settings, tmp_path: Path) -> None:
    pub = settings.seal_key_file.with_suffix(".pub")
    assert verify(bundle, "--public-key", str(pub))[0] == 0
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex())
    code, output = verify(bundle, "--public-key", str(stranger))
    assert code == 1 and "unknown_seal_key" in output


def test_stored_recording_cut_short_at_its_end_fails_verify(sealed: dict[str, object], settings: Settings) -> None:
    store = ObjectStore(settings)
    rid = str(sealed["other"])
    summary = latest_summary(settings, rid)
    assert summary is not None
    last = segment_key(rid, summary.last_sequence)
    for version in store.versions(store.footage_bucket, last):
        store.delete_versions(store.footage_bucket, [(version.key, version.version_id)])
    result = bwv("verify", rid)
    assert result.returncode == 1 and "truncated" in result.stderr, result.stderr


def readme_checker(tmp_path: Path) -> Path:
    """The README's own check-bundle script, exactly as documented."""
    text = (Path(__file__).parents[2] / "README.md").read_text()
    start = text.index("```python check-bundle\n") + len("```python check-bundle\n")
    script = tmp_path / "check_bundle.py"
    script.write_text(text[start : text.index("```", start)])
    return script


def test_the_readme_script_checks_a_bundle_without_bwv(bundle: Path, settings: Settings, tmp_path: Path) -> None:
    import subprocess
    import sys

    from consumers.published import published_keys

    [key] = published_keys(settings).values()
    script = readme_checker(tmp_path)
    ok = subprocess.run([sys.executable, str(script), str(bundle), key], capture_output=True, text=True)
    assert ok.returncode == 0 and " OK: " in ok.stdout, ok.stderr
    files = read(bundle)
    edit_time(files)
    bad = subprocess.run([sys.executable, str(script), str(write(files, tmp_path / "t.zip")), key], capture_output=True, text=True)
    assert bad.returncode != 0 and "chain broken" in bad.stderr


def test_export_by_camera_and_time_window(sealed: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "window.zip"
    result = bwv("export", "--camera", "exp-cam", "--since", "2020-01-01", "--out", str(out), "--by", "sgt-7", "--reason", "window")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(read(out)["manifest.json"])
    assert [r["recording_id"] for r in manifest["recordings"]] == [sealed["recording"]]
    refused = bwv("export", "--since", "2020-01-01", "--out", str(out), "--by", "x", "--reason", "y")
    assert refused.returncode == 2 and "--camera" in refused.stderr and "Traceback" not in refused.stderr
