"""Every benchmark runs at its tiny size and writes its JSON, so ``python -m bench`` does not rot.

The figures of a tiny run mean nothing and are not checked; only that each
command finishes, measures what it says, and writes a well-formed result. Each
command starts its own broker and S3 endpoint (no shared fixtures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def bench(command: str, results: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", command, "--tiny", "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, f"python -m bench {command} --tiny failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads((results / f"{command}.json").read_text())
    assert result["benchmark"] == command and result["tiny"] is True
    assert result["machine"]["nproc"] >= 1 and result["machine"]["cpu"]
    return result


def test_raw(tmp_path: Path) -> None:
    raw = bench("raw", tmp_path)["raw"]
    assert raw["segments"] == 6 and raw["megabytes_per_second"] > 0
    assert raw["latency_stored"]["count"] == 6


def test_ingest_with_thumbnails_inline_agent_and_off(tmp_path: Path) -> None:
    result = bench("ingest", tmp_path)
    assert [p["mode"] for p in result["pipeline"]] == ["inline", "agent", "off"]
    for phase in result["pipeline"]:
        assert phase["complete"] and phase["segments"] == 6, phase
        assert phase["latency_stored"]["count"] == 6 and phase["latency_indexed"]["count"] == 6
        # Each camera's first segment at least, then one per BWV_THUMBNAIL_INTERVAL_SECONDS of footage.
        assert phase["latency_thumbnail"]["count"] == (0 if phase["mode"] == "off" else phase["thumbnails_cut"])
        assert phase["mode"] == "off" or 1 <= phase["thumbnails_cut"] <= 6
    assert set(result["fraction_of_raw"]) == {"inline", "agent", "off"}


def test_realtime_steps_and_the_raw_reference(tmp_path: Path) -> None:
    result = bench("realtime", tmp_path)
    assert [s["cameras"] for s in result["steps"]][:1] == [2]
    assert all(s["stored"] == s["segments"] for s in result["steps"])
    assert result["raw_reference"] is not None and result["raw_reference"]["segments"] > 0


def test_thumbnails_with_and_without_the_ffmpeg_command(tmp_path: Path) -> None:
    with_path = bench("thumbnails", tmp_path / "as-is")
    methods = {row["method"] for row in with_path["per_segment"]}
    assert {"first_keyframe_jpeg", "naive PyAV"} <= methods
    if shutil.which("ffmpeg"):
        assert "ffmpeg command" in methods and with_path["vs_ffmpeg"][0]["speedup_wall"] > 0
    # No ffmpeg on PATH: its column is left out, the rest still runs.
    without = bench("thumbnails", tmp_path / "no-ffmpeg", env={"PATH": str(tmp_path / "empty")})
    assert without["ffmpeg"] is None and without["vs_ffmpeg"] == []
    assert "ffmpeg command" not in {row["method"] for row in without["per_segment"]}


def test_scaling_one_and_two_workers(tmp_path: Path) -> None:
    phases = bench("scaling", tmp_path)["modes"]["inline"]["phases"]
    assert [p["workers"] for p in phases] == [1, 2]
    assert all(p["complete"] and p["segments"] == 12 for p in phases), phases
