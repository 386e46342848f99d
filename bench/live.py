"""Capture → playable in the browser: how far behind live the control room's player is.

A fresh local stack (Tansu, moto, one worker, ``bwv control-room``) and N
real-time cameras (``bwv camera --source testsrc --realtime``, 2 s segments,
640x360 with an audio tone, as ``bwv up`` runs them). For every segment:

| stage | measured as |
|---|---|
| stored | capture end → ``stored_at`` on ``bwv.segments.stored`` (the worker) |
| listed | capture end → the first live playlist the control room serves that lists it; one client per camera reloads it as a player does (blocking reload, ``_HLS_msn``) |
| buffered | capture end → hls.js in headless Chromium has it in its buffer (``FRAG_BUFFERED``), one camera's live player on the wall |
| on screen | the player's "behind live": now − capture time of the picture shown (hls.js ``playingDate``), sampled twice a second |

Times are wall-clock on this one machine (cameras, server and browser share its
clock). ``python -m bench live`` (or ``python -m bench.live``) prints the table and
writes bench/results/live.json. Without Playwright or /usr/bin/chromium the
browser rows are skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, Collector, Latency, bench_stack, describe, machine, table, write_result

SEGMENT_SECONDS = 2.0
USER, PASSWORD = "bench-operator", "bench-live-password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
_PDT = re.compile(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)")
_EXTINF = re.compile(r"#EXTINF:([\d.]+),")


# --- a logged-in client ---------------------------------------------------------------------


class Operator:
    """Plain HTTP with the control room's session cookie."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        form = urllib.parse.urlencode({"name": USER, "password": PASSWORD, "next": "/"}).encode()
        self.opener.open(urllib.request.Request(base + "/login", data=form), timeout=30).read()

    def get(self, path: str, timeout: float = 30) -> bytes:
        with self.opener.open(self.base + path, timeout=timeout) as r:
            return r.read()

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))


def _segments(playlist: str) -> tuple[int, list[tuple[int, float]]]:
    """Media sequence of the first, and (sequence, capture end as epoch seconds) of each listed segment."""
    media_sequence = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist).group(1))  # type: ignore[union-attr]
    out, start = [], None
    for line in playlist.splitlines():
        if m := _PDT.match(line):
            start = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        elif (m := _EXTINF.match(line)) and start is not None:
            duration = float(m.group(1))
        elif line.startswith("segments/") and start is not None:
            out.append((int(line.split("/")[1].split(".")[0]), start + duration))
    return media_sequence, out


@dataclass(eq=False)  # a Thread: hashed by identity
class PlaylistWatcher(threading.Thread):
    """Reloads one recording's live playlist as a player does; notes when each segment is first listed."""

    operator: Operator
    recording_id: str
    listed: dict[int, float] = field(default_factory=dict)  # sequence -> seconds after its capture end
    capture_ends: dict[int, float] = field(default_factory=dict)  # sequence -> capture end (epoch seconds)
    backlog: set[int] = field(default_factory=set)  # listed in the first playlist: stored before the watcher looked
    halt: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True, name=f"watch-{self.recording_id}")

    def run(self) -> None:
        wanted: int | None = None
        while not self.halt.is_set():
            query = "?view=bench" + (f"&_HLS_msn={wanted}" if wanted is not None else "")
            try:
                text = self.operator.get(f"/media/recordings/{self.recording_id}/live.m3u8{query}", timeout=15).decode()
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                time.sleep(0.2)
                continue
            seen = time.time()
            first, segments = _segments(text)
            if wanted is None:
                self.backlog = {sequence for sequence, _ in segments}
            for sequence, capture_end in segments:
                self.listed.setdefault(sequence, seen - capture_end)
                self.capture_ends[sequence] = capture_end
            wanted = first + len(segments)
            if "#EXT-X-ENDLIST" in text:
                return


# --- the browser ----------------------------------------------------------------------------


def _browser_available() -> bool:
    return importlib.util.find_spec("playwright") is not None and Path(CHROMIUM).exists()


def _watch_in_browser(base: str, camera: str, seconds: float) -> dict[str, Any]:
    """The wall's live player on ``camera`` for ``seconds``: hls.js buffering, and 'behind live' samples."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(base + "/")
            page.fill("#name", USER)
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            page.wait_for_url(base + "/")
            page.fill("#search", camera)
            page.locator(f".tile[data-camera='{camera}'] a.thumb[title='Watch live']").click(timeout=60_000)
            page.wait_for_function("() => { const v = document.getElementById('watch-player'); return v.currentTime > 0 && !v.paused; }",
                                   timeout=60_000)
            page.evaluate("() => { window.__stalls = 0; document.getElementById('watch-player').addEventListener('waiting', () => window.__stalls++); }")
            behind: list[float] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                value = page.evaluate("() => document.getElementById('watch-stats').dataset.behindLive")
                if value:
                    behind.append(float(value))
                time.sleep(0.5)
            buffered = page.evaluate("() => BWV.watch.player.buffered.map(b => [b.sequence, (b.bufferedAt - b.captureEnd) / 1000])")
            stalls = page.evaluate("() => window.__stalls")
        finally:
            browser.close()
    return {"buffered": {int(s): float(d) for s, d in buffered}, "behind_live": behind, "stalls": stalls}


# --- the run --------------------------------------------------------------------------------


def run(cameras: int, seconds: float, browser: bool) -> dict[str, Any]:
    """Steps: 1 stack, worker, control room; 2 cameras recording in real time; 3 a watcher per camera
    (and one browser); 4 the worker's stored times; 5 figures."""
    from bwv.stack import free_port, wait_for_port
    from consumers.controlroom.users import UserStore

    ids = [f"live-{i:02d}" for i in range(1, cameras + 1)]
    env = {"BWV_SEGMENT_SECONDS": str(SEGMENT_SECONDS), "BWV_CAMERA_SILENT_SECONDS": "10", "BWV_METRICS_PORT": "0"}
    with bench_stack(ids, env=env) as bs:
        # 1. The worker and the control room.
        bs.start_worker("inline")
        users = bs.workdir / "users.json"
        UserStore(users).add(USER, "viewer", PASSWORD)
        port = free_port()
        room = bs.stack.spawn("control room", [sys.executable, "-m", "bwv", "control-room", "--port", str(port)],
                              {"BWV_CONTROL_ROOM_USERS": str(users)}, bs.workdir / "logs" / "control-room.log")
        wait_for_port(port, timeout=30, proc=room.proc)
        base = f"http://127.0.0.1:{port}"
        collector = Collector(bs.settings)
        collector.start()
        collector.ready.wait(30)

        # 2. Cameras as `bwv up` runs them: real time, testsrc 640x360 with a tone, 2 s segments.
        for camera in ids:
            bs.stack.spawn(camera, [sys.executable, "-m", "bwv", "camera", "--source", "testsrc", "--realtime", "--quiet",
                                    "--seconds", str(seconds + 20), "--camera-id", camera, "--officer", f"pc-{camera}",
                                    "--bitrate", "800000"], None, bs.workdir / "logs" / f"{camera}.log")

        # 3. One playlist watcher per camera, from its first indexed segment on; one browser on the first.
        operator = Operator(base)
        recordings: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(recordings) < cameras and time.monotonic() < deadline:
            for camera in ids:
                found = operator.json(f"/api/recordings?camera={camera}")["recordings"]
                if found:
                    recordings[camera] = found[0]["recording_id"]
            time.sleep(0.5)
        if len(recordings) < cameras:
            raise SystemExit(f"only {len(recordings)} of {cameras} cameras reached the index in 60 s; see {bs.workdir}/logs")
        watchers = [PlaylistWatcher(operator, recordings[c]) for c in ids]
        for w in watchers:
            w.start()
        started = time.monotonic()
        seen_in_browser = _watch_in_browser(base, ids[0], seconds) if browser else None
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        for w in watchers:
            w.halt.set()
        time.sleep(SEGMENT_SECONDS + 1)  # the last segments' stored records
        collector.stop()

        # 4. Figures. A watcher's first playlist lists a backlog (segments stored before it looked): left out.
        stored = [collector.stored[(w.recording_id, seq)] - end
                  for w in watchers for seq, end in w.capture_ends.items() if (w.recording_id, seq) in collector.stored]
        listed = [after for w in watchers for seq, after in w.listed.items() if seq not in w.backlog]
        rows = {
            "capture end -> stored (worker)": Latency.of(stored),
            "capture end -> listed in the live playlist": Latency.of(listed),
        }
        extra: dict[str, Any] = {}
        if seen_in_browser is not None:
            backlog = watchers[0].backlog
            buffered = [d for seq, d in seen_in_browser["buffered"].items() if seq not in backlog][1:]
            rows["capture end -> buffered by hls.js (Chromium)"] = Latency.of(buffered)
            rows["picture on screen behind capture (player)"] = Latency.of(seen_in_browser["behind_live"][4:])
            extra = {"browser_camera": ids[0], "browser_stalls": seen_in_browser["stalls"]}
    return {"rows": rows, "cameras": cameras, "seconds": seconds, **extra}


def report(result: dict[str, Any]) -> str:
    rows = [[name, f.count, f.p50, f.p95, f.p99, f.max] for name, f in result["rows"].items()]
    out = table(f"Capture -> playable, {result['cameras']} real-time cameras, {SEGMENT_SECONDS:g} s segments "
                f"(seconds after a segment's capture end)", ["stage", "segments", "p50", "p95", "p99", "max"], rows)
    if "browser_stalls" in result:
        out += f"\nplayer stalls while sampled: {result['browser_stalls']}"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    started = time.monotonic()
    about = machine()
    print(f"== bench live{' (tiny)' if args.tiny else ''} on {describe(about)}", flush=True)
    figures = command(args)
    seconds = round(time.monotonic() - started, 1)
    path = write_result("live", {"benchmark": "live", "tiny": args.tiny, "machine": about, "wall_seconds": seconds,
                                 "command": "python -m bench.live " + " ".join(sys.argv[1:]), **figures}, args.results)
    print(f"\nlive: {seconds} s; written {path}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, for this module's own parser and for ``python -m bench live``."""
    if not any(a.dest == "tiny" for a in parser._actions):  # noqa: SLF001 - the dispatcher adds --tiny/--results itself
        parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds; figures meaningless)")
        parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes (default bench/results)")
    parser.add_argument("--cameras", type=int, default=None, help="real-time cameras (default 4; --tiny 1)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds measured (default 60; --tiny 12)")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium player")


def command(args: argparse.Namespace) -> dict[str, Any]:
    cameras = args.cameras or (1 if args.tiny else 4)
    seconds = args.seconds or (12.0 if args.tiny else 60.0)
    browser = not args.no_browser and _browser_available()
    if not args.no_browser and not browser:
        print("  (no Playwright or /usr/bin/chromium: the browser rows are skipped)", flush=True)
    result = run(cameras, seconds, browser)
    print(report(result))
    return {"config": {"cameras": cameras, "seconds": seconds, "segment_seconds": SEGMENT_SECONDS, "browser": browser},
            **result}


if __name__ == "__main__":
    main()
