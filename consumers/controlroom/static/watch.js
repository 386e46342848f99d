// The live player on the wall: a click on a live tile opens it; it follows the camera's current recording.
// Shows how far behind live it is: the picture on screen against the server's clock, the newest segment's
// age, the player's distance to the live edge, and the camera's capture-to-stored delay.
"use strict";

BWV.watch = (() => {
  const { seconds } = BWV;
  const dialog = document.getElementById("watch");
  const video = document.getElementById("watch-player");
  const statsBox = document.getElementById("watch-stats");
  const errorBox = document.getElementById("watch-error");
  let camera = null; // tile data of the camera shown
  let player = null;
  let recording = null;

  const fmt = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : `${v.toFixed(1)} s`);

  function showError(message) {
    errorBox.hidden = !message;
    errorBox.textContent = message || "";
  }

  function onStats(s) {
    statsBox.dataset.behindLive = s.behindLive === null ? "" : s.behindLive.toFixed(3);
    statsBox.dataset.newestAge = s.newestAge === null ? "" : s.newestAge.toFixed(3);
    statsBox.dataset.behindEdge = s.behindEdge === null ? "" : s.behindEdge.toFixed(3);
    document.getElementById("watch-behind").textContent = fmt(s.behindLive);
    document.getElementById("watch-newest").textContent = fmt(s.newestAge);
    document.getElementById("watch-edge").textContent = fmt(s.behindEdge);
    const late = s.behindLive !== null && s.behindLive > 6;
    statsBox.classList.toggle("late", late);
  }

  function start(recordingId) {
    if (player) player.stop();
    recording = recordingId;
    showError(null);
    onStats({ behindLive: null, newestAge: null, behindEdge: null });
    dialog.dataset.recording = recordingId || "";
    const link = document.getElementById("watch-recording");
    link.href = recordingId ? `/recordings/${encodeURIComponent(recordingId)}` : "#";
    link.hidden = !recordingId;
    player = recordingId ? BWV.Player.create(video, { recordingId, live: true, onStats, onError: showError }) : null;
    BWV.watch.player = player;
  }

  function render(c) {
    dialog.dataset.camera = c.camera_id;
    dialog.dataset.live = String(c.live);
    document.getElementById("watch-camera").textContent = c.camera_id;
    document.getElementById("watch-officer").textContent = c.officer_id;
    const badge = document.getElementById("watch-live");
    badge.className = `badge live badge-${c.live ? "live" : "offline"}`;
    badge.textContent = c.live ? "LIVE" : "OFFLINE";
    document.getElementById("watch-ingest").textContent = seconds(c.ingest_delay_seconds);
    if (!c.live && c.state !== "recording") showError("The camera is not recording now: the player stops at its last segment.");
  }

  function open(c) {
    camera = c;
    render(c);
    if (!dialog.open) dialog.showModal();
    start(c.current_recording);
  }

  function close() {
    if (player) player.stop();
    player = null;
    BWV.watch.player = null;
    camera = null;
    recording = null;
    if (dialog.open) dialog.close();
  }

  // Every camera change from /events: the shown camera's badge and delay, and a new recording followed.
  function update(c) {
    if (!camera || c.camera_id !== camera.camera_id) return;
    camera = c;
    render(c);
    if (c.current_recording && c.current_recording !== recording) start(c.current_recording);
  }

  document.getElementById("watch-close").addEventListener("click", close);
  dialog.addEventListener("close", () => { if (camera) close(); });

  return { open, close, update, player: null, get camera() { return camera && camera.camera_id; } };
})();
